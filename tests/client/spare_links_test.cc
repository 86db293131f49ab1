#include "client/spare_links.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace reitunnel::client {
namespace {

TEST(SpareLinksTest, BaseIsClamped) {
  EXPECT_EQ(SpareLinks(0).base(), 1u);
  EXPECT_EQ(SpareLinks(4).base(), 4u);
  EXPECT_EQ(SpareLinks(1000).base(), SpareLinks::kMaxSpares);
  EXPECT_EQ(SpareLinks(4).target(), 4u);
}

TEST(SpareLinksTest, TryOpenOneStopsAtTheTarget) {
  SpareLinks s(3);
  int opened = 0;
  while (s.TryOpenOne()) ++opened;
  EXPECT_EQ(opened, 3);
  EXPECT_EQ(s.spares(), 3);
  s.Leave();  // one went into use
  EXPECT_TRUE(s.TryOpenOne());
  EXPECT_FALSE(s.TryOpenOne());
}

TEST(SpareLinksTest, DemandRaisesTheTargetUpToTheMaximum) {
  SpareLinks s(4);
  s.Demand(3);
  EXPECT_EQ(s.target(), 7u);
  s.Demand(1000);
  EXPECT_EQ(s.target(), SpareLinks::kMaxSpares);
  s.Demand(1);
  EXPECT_EQ(s.target(), SpareLinks::kMaxSpares);
}

TEST(SpareLinksTest, QuietHeartbeatsDecayTowardsTheBase) {
  SpareLinks s(4);
  s.Demand(60);
  EXPECT_EQ(s.target(), 64u);
  // A heartbeat right after demand keeps the target...
  EXPECT_EQ(s.Heartbeat(), 0u);
  EXPECT_EQ(s.target(), 64u);
  // ...quiet ones shrink it at least by half the excess each time, down to
  // the base and never below.
  uint32_t prev = s.target();
  for (int i = 0; i < 6; ++i) {
    s.Heartbeat();
    const uint32_t t = s.target();
    EXPECT_GE(t, s.base());
    EXPECT_LE(t, s.base() + (prev - s.base()) / 2 + 1) << "heartbeat " << i;
    if (prev > s.base()) {
      EXPECT_LT(t, prev) << "heartbeat " << i;
    }
    prev = t;
  }
  EXPECT_EQ(s.target(), s.base());
  s.Heartbeat();
  EXPECT_EQ(s.target(), s.base());
}

TEST(SpareLinksTest, SurplusIsReportedAfterTheTargetShrinks) {
  SpareLinks s(2);
  s.Demand(6);
  int opened = 0;
  while (s.TryOpenOne()) ++opened;
  EXPECT_EQ(opened, 8);
  EXPECT_EQ(s.Heartbeat(), 0u);  // demand seen: the target stays 8
  EXPECT_EQ(s.target(), 8u);
  uint32_t surplus = s.Heartbeat();  // quiet: the target shrinks below 8
  ASSERT_LT(s.target(), 8u);
  EXPECT_EQ(surplus, 8u - s.target());
  // The agent retires the surplus; then there is none.
  for (uint32_t i = 0; i < surplus; ++i) s.Leave();
  EXPECT_EQ(s.spares(), static_cast<int>(s.target()));
  while (s.target() > s.base()) {
    surplus = s.Heartbeat();
    EXPECT_EQ(surplus, static_cast<uint32_t>(s.spares()) - s.target());
    for (uint32_t i = 0; i < surplus; ++i) s.Leave();
  }
  EXPECT_EQ(s.Heartbeat(), 0u);
  EXPECT_EQ(s.spares(), 2);
}

TEST(SpareLinksTest, ReturningLinksCanExceedTheTargetAndShowAsSurplus) {
  SpareLinks s(2);
  ASSERT_TRUE(s.TryOpenOne());
  ASSERT_TRUE(s.TryOpenOne());
  s.Leave();
  s.Leave();  // both relaying visitors
  ASSERT_TRUE(s.TryOpenOne());
  ASSERT_TRUE(s.TryOpenOne());
  s.Return();
  s.Return();  // the visitors ended; their links came back idle
  EXPECT_EQ(s.spares(), 4);
  EXPECT_FALSE(s.TryOpenOne());
  EXPECT_EQ(s.Heartbeat(), 2u);
}

// Links on every worker open, use and retire spares at once; the count of
// idle spares never passes the target.
TEST(SpareLinksTest, ConcurrentOpenersNeverExceedTheTarget) {
  SpareLinks s(8);
  std::atomic<bool> stop{false};
  std::atomic<int> violations{0};
  std::thread watcher([&] {
    while (!stop.load()) {
      if (s.spares() > static_cast<int>(s.target())) violations.fetch_add(1);
    }
  });
  std::vector<std::thread> workers;
  std::atomic<int> opened{0};
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        if (s.TryOpenOne()) {
          opened.fetch_add(1);
          s.Leave();
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  stop = true;
  watcher.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_EQ(s.spares(), 0);
  EXPECT_GT(opened.load(), 0);

  // And filling up concurrently lands exactly on the target.
  std::vector<std::thread> fillers;
  std::atomic<int> filled{0};
  for (int w = 0; w < 4; ++w) {
    fillers.emplace_back([&] {
      while (s.TryOpenOne()) filled.fetch_add(1);
    });
  }
  for (auto& t : fillers) t.join();
  EXPECT_EQ(filled.load(), 8);
  EXPECT_EQ(s.spares(), 8);
}

TEST(SpareLinksTest, ConcurrentDemandIsNotLost) {
  SpareLinks s(1);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) s.Demand(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(s.target(), 21u);
}

}  // namespace
}  // namespace reitunnel::client
