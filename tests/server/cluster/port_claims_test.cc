// Cluster-wide port claims between "replicas" sharing one real etcd.

#include "server/cluster/port_claims.h"

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "asio/co_spawn.hpp"
#include "asio/use_future.hpp"
#include "gtest/gtest.h"
#include "tests/server/cluster/cluster_fixture.h"

namespace reitunnel::cluster {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::IoThread;
using testing::TestReplica;
using testing::WaitFor;

struct Events {
  std::mutex mu;
  std::vector<std::pair<uint16_t, bool>> serving;
  std::vector<std::pair<uint16_t, std::string>> lost;
  bool Lost(uint16_t port) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [p, owner] : lost) {
      if (p == port) return true;
    }
    return false;
  }
};

class PortClaimsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto etcd = testing::EtcdProcess::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
    for (int i = 0; i < 2; ++i) {
      ASSERT_NO_FATAL_FAILURE(testing::StartReplica(io_, etcd_->url(), "r" + std::to_string(i + 1),
                                                    seconds(2), replicas_[i]));
      PortClaimsOptions options;
      options.replica_id = replicas_[i].id;
      PortClaims::Listener listener;
      Events* events = &events_[i];
      listener.on_serving_changed = [events](uint16_t port, bool allowed) {
        std::lock_guard<std::mutex> lock(events->mu);
        events->serving.emplace_back(port, allowed);
      };
      listener.on_claim_lost = [events](uint16_t port, const std::string& owner, const absl::Status&) {
        std::lock_guard<std::mutex> lock(events->mu);
        events->lost.emplace_back(port, owner);
      };
      auto claims = PortClaims::Create(*replicas_[i].client, replicas_[i].lease, options, listener);
      ASSERT_TRUE(claims.ok()) << claims.status();
      claims_[i] = *std::move(claims);
      io_.On(*replicas_[i].strand, [&, i] { claims_[i]->Start(); });
    }
  }

  void TearDown() override {
    for (int i = 0; i < 2; ++i) {
      if (claims_[i]) io_.On(*replicas_[i].strand, [&, i] { claims_[i]->Stop(); });
      claims_[i].reset();
      testing::StopReplica(io_, replicas_[i]);
    }
  }

  absl::StatusOr<ClaimResult> Claim(int replica, uint16_t port, const std::string& owner) {
    return io_.Run(claims_[replica]->Claim(port, owner));
  }

  std::future<absl::StatusOr<ClaimResult>> ClaimAsync(int replica, uint16_t port,
                                                      const std::string& owner) {
    return asio::co_spawn(io_.executor(), claims_[replica]->Claim(port, owner), asio::use_future);
  }

  IoThread io_;
  std::unique_ptr<testing::EtcdProcess> etcd_;
  TestReplica replicas_[2];
  std::shared_ptr<PortClaims> claims_[2];
  Events events_[2];
};

// Two agents, each reaching both replicas, ask for the same port at once:
// one wins on both replicas, the other is refused on both.
TEST_F(PortClaimsTest, RacingOwnersOneWinsEverywhere) {
  int wins_a = 0, wins_b = 0;
  for (int trial = 0; trial < 50; ++trial) {
    const auto port = static_cast<uint16_t>(21000 + trial);
    auto a1 = ClaimAsync(0, port, "agent-A");
    auto b2 = ClaimAsync(1, port, "agent-B");
    auto b1 = ClaimAsync(0, port, "agent-B");
    auto a2 = ClaimAsync(1, port, "agent-A");
    std::vector<absl::StatusOr<ClaimResult>> a = {a1.get(), a2.get()};
    std::vector<absl::StatusOr<ClaimResult>> b = {b1.get(), b2.get()};
    for (auto* results : {&a, &b}) {
      for (auto& r : *results) ASSERT_TRUE(r.ok()) << r.status();
    }
    const bool a_won = a[0]->claimed || a[1]->claimed;
    const bool b_won = b[0]->claimed || b[1]->claimed;
    ASSERT_NE(a_won, b_won) << "trial " << trial;
    auto& winner = a_won ? a : b;
    auto& loser = a_won ? b : a;
    EXPECT_TRUE(winner[0]->claimed && winner[1]->claimed) << "trial " << trial;
    EXPECT_EQ(loser[0]->held_by, a_won ? "agent-A" : "agent-B");
    EXPECT_EQ(loser[1]->held_by, a_won ? "agent-A" : "agent-B");
    (a_won ? wins_a : wins_b)++;
    EXPECT_TRUE(claims_[0]->ServingAllowed(port));
    EXPECT_TRUE(claims_[1]->ServingAllowed(port));
  }
  EXPECT_EQ(wins_a + wins_b, 50);
}

TEST_F(PortClaimsTest, SameOwnerOnBothReplicasAndReleaseFreesThePort) {
  auto first = Claim(0, 22000, "agent-A");
  ASSERT_TRUE(first.ok() && first->claimed);
  auto second = Claim(1, 22000, "agent-A");
  ASSERT_TRUE(second.ok() && second->claimed);
  auto other = Claim(1, 22001, "agent-B");
  ASSERT_TRUE(other.ok() && other->claimed);

  auto refused = Claim(1, 22000, "agent-B");
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->claimed);

  ASSERT_TRUE(io_.Run(claims_[0]->Release(22000)).ok());
  EXPECT_FALSE(claims_[0]->ServingAllowed(22000));
  // r2 still holds it for A.
  auto still = Claim(0, 22000, "agent-B");
  ASSERT_TRUE(still.ok());
  EXPECT_FALSE(still->claimed);
  ASSERT_TRUE(io_.Run(claims_[1]->Release(22000)).ok());
  auto taken = Claim(0, 22000, "agent-B");
  ASSERT_TRUE(taken.ok());
  EXPECT_TRUE(taken->claimed);

  // The watch-fed view shows who holds what.
  ASSERT_TRUE(WaitFor([&] {
    auto view = claims_[1]->ClusterClaims();
    return view.count(22000) && view[22000].size() == 1 && view[22000].count("r1") &&
           view[22000]["r1"] == "agent-B" && view.count(22001) && view[22001]["r2"] == "agent-B";
  }));
}

TEST_F(PortClaimsTest, PickFreeNeverGivesTwoOwnersTheSamePort) {
  std::vector<std::future<absl::StatusOr<ClaimResult>>> picks;
  for (int i = 0; i < 5; ++i) {
    picks.push_back(asio::co_spawn(io_.executor(), claims_[0]->PickFree(23000, 23009, "agent-A"),
                                   asio::use_future));
    picks.push_back(asio::co_spawn(io_.executor(), claims_[1]->PickFree(23000, 23009, "agent-B"),
                                   asio::use_future));
  }
  std::set<uint16_t> ports;
  for (auto& pick : picks) {
    auto r = pick.get();
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->claimed);
    EXPECT_GE(r->port, 23000);
    EXPECT_LE(r->port, 23009);
    ports.insert(r->port);
  }
  EXPECT_EQ(ports.size(), 10u);
  auto none = io_.Run(claims_[0]->PickFree(23000, 23009, "agent-C"));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kResourceExhausted) << none.status();

  // The agent then asks the other replica for the port it was given.
  auto given = io_.Run(claims_[0]->PickFree(23010, 23019, "agent-D"));
  ASSERT_TRUE(given.ok() && given->claimed);
  auto same = Claim(1, given->port, "agent-D");
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->claimed);
}

// A replica cut off from etcd longer than its lease stops serving before
// the lease could expire, and serves again once etcd answers.
TEST_F(PortClaimsTest, FrozenEtcdStopsServingThenItResumes) {
  auto claimed = Claim(0, 24000, "agent-A");
  ASSERT_TRUE(claimed.ok() && claimed->claimed);
  ASSERT_TRUE(claims_[0]->ServingAllowed(24000));

  etcd_->Pause();
  const auto paused_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return !claims_[0]->ServingAllowed(24000); }, milliseconds(5000)));
  EXPECT_LT(std::chrono::steady_clock::now() - paused_at, seconds(2));  // < TTL
  // New claims are refused, retryably, while the lease is in doubt.
  auto refused = Claim(0, 24001, "agent-A");
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();

  std::this_thread::sleep_for(milliseconds(2500));  // the outage under test: longer than the TTL
  etcd_->Resume();
  ASSERT_TRUE(WaitFor([&] { return claims_[0]->ServingAllowed(24000); }, milliseconds(10000)));
  std::lock_guard<std::mutex> lock(events_[0].mu);
  // Told to stop, then to serve again.
  ASSERT_GE(events_[0].serving.size(), 3u);
  EXPECT_EQ(events_[0].serving.front(), std::make_pair(uint16_t{24000}, true));
  EXPECT_EQ(events_[0].serving.back(), std::make_pair(uint16_t{24000}, true));
  bool stopped = false;
  for (auto& e : events_[0].serving) stopped |= !e.second;
  EXPECT_TRUE(stopped);
}

// After its lease is lost, a replica claims its ports again; a port taken by
// another agent meanwhile is reported lost and no longer served.
TEST_F(PortClaimsTest, PortTakenWhileLeaseWasLostIsGivenUp) {
  bool exercised = false;
  for (int round = 0; round < 5 && !exercised; ++round) {
    const auto port = static_cast<uint16_t>(25000 + round);
    auto claimed = Claim(0, port, "agent-A");
    ASSERT_TRUE(claimed.ok() && claimed->claimed) << claimed.status();
    // Revoking r1's lease does what an expiry does: its keys vanish at once.
    etcdserverpb::LeaseRevokeRequest revoke;
    revoke.set_id(replicas_[0].lease->lease_id());
    ASSERT_TRUE(io_.Run(replicas_[1].client->LeaseRevoke(std::move(revoke))).ok());
    auto taken = Claim(1, port, "agent-B");
    ASSERT_TRUE(taken.ok()) << taken.status();
    if (!taken->claimed) continue;  // r1 was quicker to re-claim: try again
    exercised = true;
    ASSERT_TRUE(WaitFor([&] { return events_[0].Lost(port); }));
    EXPECT_FALSE(claims_[0]->ServingAllowed(port));
    EXPECT_TRUE(claims_[1]->ServingAllowed(port));
    EXPECT_EQ(claims_[0]->LocalClaims().count(port), 0u);
  }
  EXPECT_TRUE(exercised);
}

// Ports not taken meanwhile come back under the new lease.
TEST_F(PortClaimsTest, PortsAreReclaimedUnderANewLease) {
  auto claimed = Claim(0, 26000, "agent-A");
  ASSERT_TRUE(claimed.ok() && claimed->claimed);
  const int64_t old_lease = replicas_[0].lease->lease_id();
  etcdserverpb::LeaseRevokeRequest revoke;
  revoke.set_id(old_lease);
  ASSERT_TRUE(io_.Run(replicas_[1].client->LeaseRevoke(std::move(revoke))).ok());
  ASSERT_TRUE(WaitFor([&] {
    return replicas_[0].lease->lease_id() != old_lease && claims_[0]->ServingAllowed(26000);
  }));
  auto refused = Claim(1, 26000, "agent-B");
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->claimed);
}

}  // namespace
}  // namespace reitunnel::cluster
