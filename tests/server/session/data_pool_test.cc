// DataPool (one worker's idle data connections) on one io_context with
// real loopback connections.

#include "server/session/data_pool.h"

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "common/net/spawn.h"
#include "gtest/gtest.h"
#include "tests/common/transport/loopback.h"

namespace reitunnel::server {
namespace {

using namespace std::chrono_literals;
using transport::testing::ConnPair;
using transport::testing::RunOn;
using transport::testing::TcpPair;

// A link (the server's end of a data connection) and the agent's end.
struct TestLink {
  Link link;
  std::shared_ptr<net::Conn> agent;
};

asio::awaitable<TestLink> MakeLink() {
  ConnPair p = co_await TcpPair();
  co_return TestLink{std::make_shared<net::BufferedStream>(p.server), p.client};
}

// Polls `pred` (every millisecond, on this coroutine's executor) for up to
// 10 s; false if it never held.
asio::awaitable<bool> Eventually(std::function<bool()> pred) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) co_return false;
    t.expires_after(1ms);
    co_await t.async_wait(asio::use_awaitable);
  }
  co_return true;
}

TEST(DataPoolTest, IdleLinkIsTakenAtOnce) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    auto pool = std::make_shared<DataPool>(io.get_executor());
    TestLink l = co_await MakeLink();
    pool->Add(l.link);
    EXPECT_EQ(pool->idle(), 1);
    Link got = co_await pool->Acquire(10s);
    EXPECT_EQ(got, l.link);
    EXPECT_EQ(pool->idle(), 0);
    EXPECT_EQ(pool->waiting(), 0);
  });
}

TEST(DataPoolTest, WaitersAreServedInArrivalOrder) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    auto pool = std::make_shared<DataPool>(io.get_executor());
    std::vector<Link> got(3);
    int done = 0;
    auto waiter = [&](int i) -> asio::awaitable<void> {
      got[i] = co_await pool->Acquire(30s);
      ++done;
    };
    for (int i = 0; i < 3; ++i) net::Spawn(io, waiter(i), "waiter");
    const std::function<bool()> all_waiting = [&] { return pool->waiting() == 3; };
    CO_ASSERT_TRUE(co_await Eventually(all_waiting));
    std::vector<TestLink> links;
    for (int i = 0; i < 3; ++i) {
      links.push_back(co_await MakeLink());
      pool->Add(links.back().link);
      EXPECT_EQ(pool->waiting(), 2 - i);
      EXPECT_EQ(pool->idle(), 0);  // handed over, not kept
    }
    const std::function<bool()> all_served = [&] { return done == 3; };
    CO_ASSERT_TRUE(co_await Eventually(all_served));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(got[i], links[i].link) << "waiter " << i;
  });
}

TEST(DataPoolTest, RedirectWakesTheOldestWaiterWithTheWorkerToGoTo) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    auto pool = std::make_shared<DataPool>(io.get_executor());
    EXPECT_FALSE(pool->RedirectOneWaiter(1));  // nobody waits
    int redirected[2] = {-2, -2};
    Link got[2];
    int done = 0;
    auto waiter = [&](int i) -> asio::awaitable<void> {
      got[i] = co_await pool->Acquire(30s, &redirected[i]);
      ++done;
    };
    for (int i = 0; i < 2; ++i) net::Spawn(io, waiter(i), "waiter");
    const std::function<bool()> both_waiting = [&] { return pool->waiting() == 2; };
    CO_ASSERT_TRUE(co_await Eventually(both_waiting));
    EXPECT_TRUE(pool->RedirectOneWaiter(3));
    EXPECT_EQ(pool->waiting(), 1);
    TestLink l = co_await MakeLink();
    pool->Add(l.link);
    const std::function<bool()> both_done = [&] { return done == 2; };
    CO_ASSERT_TRUE(co_await Eventually(both_done));
    EXPECT_EQ(got[0], nullptr);
    EXPECT_EQ(redirected[0], 3);
    EXPECT_EQ(got[1], l.link);
    EXPECT_EQ(redirected[1], -1);
  });
}

TEST(DataPoolTest, RedirectSkipsWaitersThatCannotMove) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    auto pool = std::make_shared<DataPool>(io.get_executor());
    int redirected = -2;
    Link got[2];
    int done = 0;
    // The first waiter is a UDP flow: no redirect slot, it cannot move.
    auto flow = [&]() -> asio::awaitable<void> {
      got[0] = co_await pool->Acquire(30s);
      ++done;
    };
    auto visitor = [&]() -> asio::awaitable<void> {
      got[1] = co_await pool->Acquire(30s, &redirected);
      ++done;
    };
    net::Spawn(io, flow(), "flow");
    const std::function<bool()> flow_waiting = [&] { return pool->waiting() == 1; };
    CO_ASSERT_TRUE(co_await Eventually(flow_waiting));
    EXPECT_EQ(pool->waiting_movable(), 0);
    EXPECT_FALSE(pool->RedirectOneWaiter(3));
    net::Spawn(io, visitor(), "visitor");
    const std::function<bool()> both_waiting = [&] { return pool->waiting() == 2; };
    CO_ASSERT_TRUE(co_await Eventually(both_waiting));
    EXPECT_EQ(pool->waiting_movable(), 1);
    EXPECT_TRUE(pool->RedirectOneWaiter(3));  // the visitor, though the flow came first
    const std::function<bool()> visitor_done = [&] { return done == 1; };
    CO_ASSERT_TRUE(co_await Eventually(visitor_done));
    EXPECT_EQ(got[1], nullptr);
    EXPECT_EQ(redirected, 3);
    EXPECT_EQ(pool->waiting(), 1);
    TestLink l = co_await MakeLink();
    pool->Add(l.link);
    const std::function<bool()> flow_done = [&] { return done == 2; };
    CO_ASSERT_TRUE(co_await Eventually(flow_done));
    EXPECT_EQ(got[0], l.link);
  });
}

TEST(DataPoolTest, AcquireTimesOutWithNull) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    auto pool = std::make_shared<DataPool>(io.get_executor());
    auto start = std::chrono::steady_clock::now();
    Link got = co_await pool->Acquire(30ms);
    EXPECT_EQ(got, nullptr);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 25ms);
    EXPECT_EQ(pool->waiting(), 0);
    // A link arriving later idles instead of going to the expired waiter.
    TestLink l = co_await MakeLink();
    pool->Add(l.link);
    EXPECT_EQ(pool->idle(), 1);
  });
}

TEST(DataPoolTest, IdleLinkClosedByTheAgentLeavesThePool) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    auto pool = std::make_shared<DataPool>(io.get_executor());
    TestLink dying = co_await MakeLink();
    TestLink healthy = co_await MakeLink();
    pool->Add(dying.link);
    pool->Add(healthy.link);
    dying.agent->Close();
    const std::function<bool()> one_left = [&] { return pool->idle() == 1; };
    CO_ASSERT_TRUE(co_await Eventually(one_left));
    EXPECT_FALSE(dying.link->is_open());
    EXPECT_TRUE(healthy.link->is_open());
    EXPECT_EQ(co_await pool->Acquire(10s), healthy.link);
  });
}

TEST(DataPoolTest, TakeIdleIsWarmestAndRetireClosesTheOldest) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    auto pool = std::make_shared<DataPool>(io.get_executor());
    std::vector<TestLink> l;
    for (int i = 0; i < 4; ++i) {
      l.push_back(co_await MakeLink());
      pool->Add(l.back().link);
    }
    EXPECT_EQ(pool->Retire(2), 2u);
    EXPECT_FALSE(l[0].link->is_open());
    EXPECT_FALSE(l[1].link->is_open());
    EXPECT_TRUE(l[2].link->is_open());
    EXPECT_EQ(pool->idle(), 2);
    EXPECT_EQ(pool->TakeIdle(), l[3].link);
    EXPECT_EQ(pool->Retire(5), 1u);  // only one was left
    EXPECT_FALSE(l[2].link->is_open());
    EXPECT_EQ(pool->TakeIdle(), nullptr);
    EXPECT_TRUE(l[3].link->is_open());
  });
}

TEST(DataPoolTest, CloseFailsWaitersAndClosesIdleLinks) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    auto pool = std::make_shared<DataPool>(io.get_executor());
    bool waiter_done = false;
    Link waiter_got;
    auto waiter = [&]() -> asio::awaitable<void> {
      waiter_got = co_await pool->Acquire(std::chrono::hours(1));
      waiter_done = true;
    };
    net::Spawn(io, waiter(), "waiter");
    const std::function<bool()> waiting = [&] { return pool->waiting() == 1; };
    CO_ASSERT_TRUE(co_await Eventually(waiting));
    pool->Close();
    const std::function<bool()> done = [&] { return waiter_done; };
    CO_ASSERT_TRUE(co_await Eventually(done));
    EXPECT_EQ(waiter_got, nullptr);
    EXPECT_EQ(pool->waiting(), 0);
    // Afterwards nothing is pooled and nobody waits.
    TestLink late = co_await MakeLink();
    pool->Add(late.link);
    EXPECT_FALSE(late.link->is_open());
    EXPECT_EQ(pool->idle(), 0);
    EXPECT_EQ(co_await pool->Acquire(10s), nullptr);
  });
}

TEST(DataPoolTest, CloseClosesIdleLinks) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    auto pool = std::make_shared<DataPool>(io.get_executor());
    TestLink l = co_await MakeLink();
    pool->Add(l.link);
    pool->Close();
    EXPECT_FALSE(l.link->is_open());
    EXPECT_EQ(pool->idle(), 0);
  });
}

TEST(DataPoolTest, ClosedLinkIsNotPooled) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    auto pool = std::make_shared<DataPool>(io.get_executor());
    TestLink l = co_await MakeLink();
    l.link->Close();
    pool->Add(l.link);
    EXPECT_EQ(pool->idle(), 0);
  });
}

}  // namespace
}  // namespace reitunnel::server
