#include "server/ports/port_allocator.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "asio/io_context.hpp"
#include "common/net/listener.h"
#include "gtest/gtest.h"

namespace reitunnel::server {
namespace {

using asio::ip::tcp;
using wire::v1::REFUSAL_CODE_LIMIT;
using wire::v1::REFUSAL_CODE_PORT_IN_USE;
using wire::v1::REFUSAL_CODE_PORT_OUT_OF_RANGE;

const asio::ip::address kLoopback = asio::ip::make_address("127.0.0.1");

// A port the kernel just handed out and nobody holds now.
uint16_t FreePort() {
  asio::io_context io;
  tcp::acceptor a(io, {kLoopback, 0});
  return a.local_endpoint().port();
}

// The low end of a range of `n` ports starting at a free one.
uint16_t RangeStart(uint16_t n) {
  uint16_t p = FreePort();
  return p > 65535 - n ? static_cast<uint16_t>(p - n) : p;
}

TEST(PortAllocatorTest, SpecificPortIsReservedOnceAndReleasedWithTheReservation) {
  const uint16_t p = FreePort();
  PortAllocator ports(kLoopback, p, p);
  Refusal refusal;
  auto r = ports.Reserve(p, &refusal);
  ASSERT_NE(r, nullptr) << refusal.reason;
  EXPECT_EQ(r->port(), p);
  EXPECT_EQ(ports.reserved(), 1u);
  // Another tunnel of this process asking for it is refused.
  Refusal second;
  EXPECT_EQ(ports.Reserve(p, &second), nullptr);
  EXPECT_EQ(second.code, REFUSAL_CODE_PORT_IN_USE);
  EXPECT_EQ(second.reason, "port " + std::to_string(p) + " is already in use");
  r.reset();
  EXPECT_EQ(ports.reserved(), 0u);
  auto again = ports.Reserve(p, &refusal);
  EXPECT_NE(again, nullptr) << refusal.reason;
}

TEST(PortAllocatorTest, PortOutsideTheRangeIsRefused) {
  const uint16_t p = FreePort();
  PortAllocator ports(kLoopback, p, p);
  Refusal refusal;
  const uint32_t outside = p == 65535 ? p - 1 : p + 1;
  EXPECT_EQ(ports.Reserve(outside, &refusal), nullptr);
  EXPECT_EQ(refusal.code, REFUSAL_CODE_PORT_OUT_OF_RANGE);
  EXPECT_EQ(refusal.reason, "port " + std::to_string(outside) +
                                " is outside the allowed range " + std::to_string(p));
  EXPECT_EQ(ports.Reserve(70000, &refusal), nullptr);
  EXPECT_EQ(refusal.code, REFUSAL_CODE_PORT_OUT_OF_RANGE);
  EXPECT_EQ(ports.reserved(), 0u);
}

TEST(PortAllocatorTest, PortHeldByAnotherSocketIsInUse) {
  asio::io_context io;
  tcp::acceptor other(io, {kLoopback, 0});  // another process, as far as we know
  const uint16_t p = other.local_endpoint().port();
  PortAllocator ports(kLoopback, p, p);
  Refusal refusal;
  EXPECT_EQ(ports.Reserve(p, &refusal), nullptr);
  EXPECT_EQ(refusal.code, REFUSAL_CODE_PORT_IN_USE);
  EXPECT_EQ(ports.reserved(), 0u);  // the failed reservation was released
  // The whole range is taken: REMOTE_PORT 0 finds nothing.
  Refusal any;
  EXPECT_EQ(ports.Reserve(0, &any), nullptr);
  EXPECT_EQ(any.code, REFUSAL_CODE_LIMIT);
  EXPECT_EQ(any.reason, "no free port left in the range " + std::to_string(p));
  EXPECT_EQ(ports.reserved(), 0u);
}

TEST(PortAllocatorTest, AnyPortComesFromTheRangeUntilItIsExhausted) {
  const uint16_t low = RangeStart(6);
  const uint16_t high = low + 5;
  PortAllocator ports(kLoopback, low, high);
  EXPECT_EQ(ports.capacity(), 6u);
  EXPECT_EQ(ports.RangeString(), std::to_string(low) + "-" + std::to_string(high));
  // Ports of the range that something else on this machine holds are
  // skipped; every other one is handed out exactly once.
  size_t free = 0;
  for (uint32_t p = low; p <= high; ++p) {
    if (!net::ProbeListen({kLoopback, static_cast<uint16_t>(p)})) ++free;
  }
  std::vector<std::unique_ptr<PortAllocator::Reservation>> held;
  std::set<uint16_t> seen;
  Refusal refusal;
  while (auto r = ports.Reserve(0, &refusal)) {
    EXPECT_TRUE(ports.InRange(r->port()));
    EXPECT_TRUE(seen.insert(r->port()).second) << "port " << r->port() << " handed out twice";
    held.push_back(std::move(r));
    ASSERT_LE(held.size(), 6u);
  }
  EXPECT_EQ(held.size(), free);
  EXPECT_EQ(refusal.code, REFUSAL_CODE_LIMIT);
  EXPECT_EQ(ports.reserved(), free);
  if (held.empty()) return;
  // Releasing one makes exactly that one available again.
  const uint16_t back = held.back()->port();
  held.pop_back();
  auto r = ports.Reserve(0, &refusal);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->port(), back);
}

TEST(PortAllocatorTest, BindMakesAListenerGroupAndRefusesAPortTakenMeanwhile) {
  asio::io_context a, b;
  const uint16_t p = FreePort();
  PortAllocator ports(kLoopback, p, p);
  Refusal refusal;
  auto r = ports.Reserve(p, &refusal);
  ASSERT_NE(r, nullptr) << refusal.reason;
  {
    auto group = ports.Bind(*r, {a.get_executor(), b.get_executor()}, &refusal);
    ASSERT_EQ(group.size(), 2u) << refusal.reason;
    EXPECT_EQ(group[0].local_endpoint().port(), p);
    EXPECT_EQ(group[1].local_endpoint().port(), p);
    // A second server (its own allocator) cannot take the port now.
    PortAllocator other_server(kLoopback, p, p);
    Refusal other;
    EXPECT_EQ(other_server.Reserve(p, &other), nullptr);
    EXPECT_EQ(other.code, REFUSAL_CODE_PORT_IN_USE);
  }
  // Between Reserve and Bind someone else took it.
  tcp::acceptor intruder(a, {kLoopback, p});
  Refusal bind_refusal;
  auto group = ports.Bind(*r, {a.get_executor(), b.get_executor()}, &bind_refusal);
  EXPECT_TRUE(group.empty());
  EXPECT_EQ(bind_refusal.code, REFUSAL_CODE_PORT_IN_USE);
}

TEST(PortAllocatorTest, ConcurrentReservationsNeverShareAPort) {
  const uint16_t low = RangeStart(8);
  PortAllocator ports(kLoopback, low, low + 7);
  std::vector<std::unique_ptr<PortAllocator::Reservation>> got[4];
  std::vector<std::thread> threads;
  for (auto& mine : got) {
    threads.emplace_back([&ports, &mine] {
      Refusal refusal;
      while (auto r = ports.Reserve(0, &refusal)) mine.push_back(std::move(r));
    });
  }
  for (auto& t : threads) t.join();
  std::set<uint16_t> seen;
  size_t total = 0;
  for (auto& mine : got) {
    for (auto& r : mine) {
      EXPECT_TRUE(seen.insert(r->port()).second) << "port " << r->port() << " reserved twice";
      ++total;
    }
  }
  EXPECT_EQ(ports.reserved(), total);
}

}  // namespace
}  // namespace reitunnel::server
