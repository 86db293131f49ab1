// Membership between "replicas" sharing one real etcd.

#include "server/cluster/membership.h"

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/server/cluster/cluster_fixture.h"

namespace reitunnel::cluster {
namespace {

using std::chrono::seconds;
using testing::IoThread;
using testing::TestReplica;
using testing::WaitFor;

struct Seen {
  std::mutex mu;
  std::vector<std::pair<Membership::Change, ReplicaRecord>> changes;
  bool Has(Membership::Change change, const std::string& id, bool draining = false) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [c, r] : changes) {
      if (c == change && r.replica_id() == id && r.draining() == draining) return true;
    }
    return false;
  }
};

class MembershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto etcd = testing::EtcdProcess::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
  }

  void Join(int i, const std::string& id) {
    ASSERT_NO_FATAL_FAILURE(testing::StartReplica(io_, etcd_->url(), id, seconds(2), replicas_[i]));
    ReplicaRecord self;
    self.set_replica_id(id);
    self.set_version("test");
    self.set_agent_address("127.0.0.1:" + std::to_string(7000 + i));
    Seen* seen = &seen_[i];
    auto membership = Membership::Create(
        *replicas_[i].client, replicas_[i].lease, "testcluster", self,
        [seen](Membership::Change change, const ReplicaRecord& record) {
          std::lock_guard<std::mutex> lock(seen->mu);
          seen->changes.emplace_back(change, record);
        });
    ASSERT_TRUE(membership.ok()) << membership.status();
    members_[i] = *std::move(membership);
    io_.On(*replicas_[i].strand, [&, i] { members_[i]->Start(); });
  }

  void Leave(int i) {
    if (!members_[i]) return;
    io_.On(*replicas_[i].strand, [&, i] { members_[i]->Stop(); });
    members_[i].reset();
    ASSERT_TRUE(io_.Run(replicas_[i].lease->RevokeAndStop()).ok());
    testing::StopReplica(io_, replicas_[i]);
  }

  void TearDown() override {
    for (int i = 0; i < 3; ++i) Leave(i);
  }

  IoThread io_;
  std::unique_ptr<testing::EtcdProcess> etcd_;
  TestReplica replicas_[3];
  std::shared_ptr<Membership> members_[3];
  Seen seen_[3];
};

TEST_F(MembershipTest, ReplicasSeeEachOtherJoinChangeAndLeave) {
  Join(0, "r1");
  Join(1, "r2");
  ASSERT_TRUE(WaitFor([&] { return members_[0]->Replicas().size() == 2 && members_[1]->Replicas().size() == 2; }));
  EXPECT_TRUE(members_[0]->Registered());
  EXPECT_TRUE(seen_[0].Has(Membership::Change::kJoined, "r2"));
  auto replicas = members_[1]->Replicas();
  EXPECT_EQ(replicas[0].replica_id(), "r1");
  EXPECT_EQ(replicas[0].agent_address(), "127.0.0.1:7000");

  members_[0]->SetDraining(true);
  ASSERT_TRUE(WaitFor([&] { return seen_[1].Has(Membership::Change::kChanged, "r1", true); }));

  Leave(1);  // revokes its lease: its record goes at once
  ASSERT_TRUE(WaitFor([&] { return seen_[0].Has(Membership::Change::kLeft, "r2"); }));
  EXPECT_EQ(members_[0]->Replicas().size(), 1u);
}

TEST_F(MembershipTest, DuplicateReplicaIdWaitsForTheOtherProcess) {
  Join(0, "r1");
  ASSERT_TRUE(WaitFor([&] { return members_[0]->Registered(); }));
  Join(1, "r1");  // same id, another process (another lease)
  ASSERT_TRUE(WaitFor([&] { return members_[1]->Replicas().size() == 1; }));
  EXPECT_FALSE(members_[1]->Registered());
  Leave(0);
  ASSERT_TRUE(WaitFor([&] { return members_[1]->Registered(); }));
}

TEST_F(MembershipTest, RecordIsRewrittenAfterLeaseLoss) {
  Join(0, "r1");
  ASSERT_TRUE(WaitFor([&] { return members_[0]->Registered(); }));
  const int64_t old_lease = replicas_[0].lease->lease_id();
  auto other = testing::NewClient(etcd_->url());
  etcdserverpb::LeaseRevokeRequest revoke;
  revoke.set_id(old_lease);
  ASSERT_TRUE(io_.Run(other->LeaseRevoke(std::move(revoke))).ok());
  ASSERT_TRUE(WaitFor([&] {
    return replicas_[0].lease->lease_id() != old_lease && members_[0]->Registered() &&
           members_[0]->Replicas().size() == 1;
  }));
  // The record in etcd is bound to the new lease.
  etcdserverpb::RangeRequest get;
  get.set_key("testcluster/replicas/r1");
  auto r = io_.Run(other->Range(std::move(get)));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->kvs_size(), 1);
  EXPECT_EQ(r->kvs(0).lease(), replicas_[0].lease->lease_id());
}

}  // namespace
}  // namespace reitunnel::cluster
