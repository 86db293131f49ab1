#include "common/net/deadline.h"

#include <chrono>

#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "gtest/gtest.h"
#include "tests/common/net/net_test_util.h"

namespace reitunnel::net {
namespace {

using namespace std::chrono_literals;

TEST(DeadlineTest, ExpiryRunsTheActionOnce) {
  asio::io_context io;
  int calls = 0;
  Deadline d(io.get_executor(), 1ms, [&] { ++calls; });
  EXPECT_FALSE(d.expired());
  io.run_for(30s);
  EXPECT_TRUE(io.stopped());  // ran out of work: the timer fired
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(d.expired());
  d.Cancel();  // after expiry: harmless, still expired
  EXPECT_TRUE(d.expired());
}

TEST(DeadlineTest, CancelledDeadlineNeverFiresAndLeavesNoWork) {
  asio::io_context io;
  int calls = 0;
  Deadline d(io.get_executor(), std::chrono::hours(1), [&] { ++calls; });
  d.Cancel();
  // Returns at once: a timer still armed would keep run() busy for an hour.
  io.run_for(30s);
  EXPECT_TRUE(io.stopped());
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(d.expired());
}

TEST(DeadlineTest, DestructionCancels) {
  asio::io_context io;
  int calls = 0;
  { Deadline d(io.get_executor(), 1ms, [&] { ++calls; }); }
  io.run_for(30s);
  EXPECT_TRUE(io.stopped());
  EXPECT_EQ(calls, 0);
}

// What it is for: a handshake read that never completes is cut off.
TEST(DeadlineTest, ClosingTheConnectionFailsThePendingRead) {
  asio::io_context io;
  testing::RunOn(io, [&]() -> asio::awaitable<void> {
    testing::ConnPair p = co_await testing::TcpPair();
    Deadline d(io.get_executor(), 20ms, [&] { p.server->Close(); });
    bool aborted = false;
    try {
      char c;
      co_await p.server->ReadSome(asio::buffer(&c, 1));  // the peer never sends
    } catch (const std::system_error& e) {
      aborted = e.code() == asio::error::operation_aborted;
    }
    EXPECT_TRUE(aborted);
    EXPECT_TRUE(d.expired());
  });
}

}  // namespace
}  // namespace reitunnel::net
