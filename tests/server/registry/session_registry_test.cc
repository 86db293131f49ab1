#include "server/registry/session_registry.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace reitunnel::server {
namespace {

std::shared_ptr<SessionEntry> Entry(const std::string& client_id, const std::string& ip) {
  auto e = std::make_shared<SessionEntry>();
  e->info.client_id = client_id;
  e->info.remote_ip = ip;
  e->info.remote_addr = ip + ":5000";
  return e;
}

std::shared_ptr<TunnelCore> Tunnel(const std::string& id, const std::string& client_id) {
  TunnelInfo info;
  info.tunnel_id = id;
  info.client_id = client_id;
  return std::make_shared<TunnelCore>(info, 1);
}

TEST(SessionRegistryTest, AgentLimitAndReplacementBySameClientId) {
  SessionRegistry reg;
  auto a = Entry("a", "10.0.0.1");
  auto b = Entry("b", "10.0.0.2");
  EXPECT_TRUE(reg.TryAdd(a, 2).ok());
  EXPECT_TRUE(reg.TryAdd(b, 2).ok());
  auto c = Entry("c", "10.0.0.3");
  absl::Status full = reg.TryAdd(c, 2);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(reg.size(), 2u);
  // The same agent reconnecting replaces its old session, even at the limit.
  auto a2 = Entry("a", "10.0.0.9");
  std::shared_ptr<SessionEntry> replaced;
  EXPECT_TRUE(reg.TryAdd(a2, 2, &replaced).ok());
  EXPECT_EQ(replaced, a);
  EXPECT_EQ(reg.Find("a"), a2);
  EXPECT_EQ(reg.size(), 2u);
  EXPECT_FALSE(reg.HasSessionFrom("10.0.0.1"));
  EXPECT_TRUE(reg.HasSessionFrom("10.0.0.9"));
  // The old session's late removal does not remove the new one.
  reg.Remove(*a);
  EXPECT_EQ(reg.Find("a"), a2);
  reg.Remove(*a2);
  EXPECT_EQ(reg.Find("a"), nullptr);
  EXPECT_EQ(reg.size(), 1u);
}

TEST(SessionRegistryTest, SessionsPerSourceAddressAreCounted) {
  SessionRegistry reg;
  auto a = Entry("a", "10.0.0.1");
  auto b = Entry("b", "10.0.0.1");
  ASSERT_TRUE(reg.TryAdd(a, 10).ok());
  ASSERT_TRUE(reg.TryAdd(b, 10).ok());
  reg.Remove(*a);
  EXPECT_TRUE(reg.HasSessionFrom("10.0.0.1"));  // b is still there
  reg.Remove(*b);
  EXPECT_FALSE(reg.HasSessionFrom("10.0.0.1"));
}

TEST(SessionRegistryTest, TunnelsAndRequestsBelongToTheCurrentEntryOnly) {
  SessionRegistry reg;
  auto a = Entry("a", "10.0.0.1");
  ASSERT_TRUE(reg.TryAdd(a, 10).ok());
  reg.SetTunnel(*a, Tunnel("t2", "a"));
  reg.SetTunnel(*a, Tunnel("t1", "a"));
  std::shared_ptr<SessionEntry> owner;
  auto t1 = reg.FindTunnel("t1", &owner);
  ASSERT_NE(t1, nullptr);
  EXPECT_EQ(owner, a);
  EXPECT_EQ(reg.FindTunnel("nope", &owner), nullptr);

  RequestedTunnel r;
  r.name = "web";
  r.state = RequestedTunnel::State::kPending;
  reg.SetRequested(*a, r);
  reg.SetRequested(*a, r);  // a retry
  r.state = RequestedTunnel::State::kRefused;
  r.last_reason = "port in use";
  reg.SetRequested(*a, r);

  auto snap = reg.Snapshot();
  ASSERT_EQ(snap.size(), 1u);
  ASSERT_EQ(snap[0].tunnels.size(), 2u);
  EXPECT_EQ(snap[0].tunnels[0]->info().tunnel_id, "t1");  // by id
  EXPECT_EQ(snap[0].tunnels[1]->info().tunnel_id, "t2");
  ASSERT_EQ(snap[0].requested.size(), 1u);
  EXPECT_EQ(snap[0].requested[0].attempts, 2u);
  EXPECT_EQ(snap[0].requested[0].state, RequestedTunnel::State::kRefused);
  EXPECT_EQ(snap[0].requested[0].last_reason, "port in use");

  reg.RemoveTunnel(*a, "t2");
  EXPECT_EQ(reg.FindTunnel("t2", nullptr), nullptr);

  // A replaced entry's bookkeeping is ignored, and the new one starts clean.
  auto a2 = Entry("a", "10.0.0.1");
  ASSERT_TRUE(reg.TryAdd(a2, 10).ok());
  reg.SetTunnel(*a, Tunnel("stale", "a"));
  EXPECT_EQ(reg.FindTunnel("stale", nullptr), nullptr);
  EXPECT_EQ(reg.FindTunnel("t1", nullptr), nullptr);
  EXPECT_EQ(reg.Snapshot()[0].requested.size(), 0u);
}

TEST(SessionRegistryTest, SnapshotIsSortedByClientId) {
  SessionRegistry reg;
  for (const char* id : {"m", "b", "z", "a"}) ASSERT_TRUE(reg.TryAdd(Entry(id, "1.1.1.1"), 10).ok());
  auto snap = reg.Snapshot();
  std::vector<std::string> ids;
  for (auto& v : snap) ids.push_back(v.entry->info.client_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "m", "z"}));
}

TEST(SessionRegistryTest, ClosedTotalsAccumulate) {
  SessionRegistry reg;
  TunnelTotals t;
  t.bytes_in = 10;
  t.bytes_out = 20;
  t.visitors_opened = 3;
  t.visitors_closed = 3;
  reg.AddClosedTotals(t);
  reg.AddClosedTotals(t);
  TunnelTotals sum = reg.closed_totals();
  EXPECT_EQ(sum.bytes_in, 20u);
  EXPECT_EQ(sum.bytes_out, 40u);
  EXPECT_EQ(sum.visitors_opened, 6u);
  EXPECT_EQ(sum.active_visitors(), 0u);
}

TEST(SessionRegistryTest, OnEmptyFiresWhenTheLastSessionLeaves) {
  SessionRegistry reg;
  int fired = 0;
  reg.SetOnEmpty([&] { ++fired; });
  auto a = Entry("a", "1.1.1.1");
  auto b = Entry("b", "1.1.1.1");
  ASSERT_TRUE(reg.TryAdd(a, 10).ok());
  ASSERT_TRUE(reg.TryAdd(b, 10).ok());
  reg.Remove(*a);
  EXPECT_EQ(fired, 0);
  reg.Remove(*b);
  EXPECT_EQ(fired, 1);
  reg.Remove(*b);  // already gone: no second notification
  EXPECT_EQ(fired, 1);
}

// Sessions come and go on every worker while admin and metrics read.
TEST(SessionRegistryTest, ConcurrentWritersAndReaders) {
  SessionRegistry reg;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&reg, w] {
      for (int i = 0; i < 300; ++i) {
        auto e = Entry("agent-" + std::to_string(w) + "-" + std::to_string(i % 5), "10.0.0.1");
        std::shared_ptr<SessionEntry> replaced;
        if (!reg.TryAdd(e, 8, &replaced).ok()) continue;
        reg.SetTunnel(*e, Tunnel("t-" + std::to_string(w) + "-" + std::to_string(i), "x"));
        if (i % 2) reg.Remove(*e);
      }
    });
  }
  std::thread reader([&] {
    while (!stop.load()) {
      for (const auto& v : reg.Snapshot()) {
        EXPECT_FALSE(v.entry->info.client_id.empty());
        for (const auto& t : v.tunnels) EXPECT_EQ(t->Totals().bytes_in, 0u);
      }
      reg.HasSessionFrom("10.0.0.1");
    }
  });
  for (auto& t : writers) t.join();
  stop = true;
  reader.join();
  EXPECT_LE(reg.size(), 8u);
  EXPECT_EQ(reg.HasSessionFrom("10.0.0.1"), reg.size() > 0);
}

}  // namespace
}  // namespace reitunnel::server
