#include "server/auth/allowed_ports.h"

#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "gtest/gtest.h"

namespace reitunnel::server {
namespace {

// A window of `n` ports that were free a moment ago (bound together, then
// released), so the allocator's probes see them free.
uint16_t FreeWindow(int n) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    asio::io_context io;
    asio::ip::tcp::acceptor first(io, {asio::ip::make_address("127.0.0.1"), 0});
    const uint16_t base = first.local_endpoint().port();
    if (base + n > 65535) continue;
    bool ok = true;
    std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> held;
    for (int i = 1; i < n && ok; ++i) {
      try {
        held.push_back(std::make_unique<asio::ip::tcp::acceptor>(
            io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                        static_cast<uint16_t>(base + i))));
      } catch (const std::system_error&) {
        ok = false;
      }
    }
    if (ok) return base;
  }
  ADD_FAILURE() << "no free port window";
  return 0;
}

TEST(AllowedPortsTest, NoPolicyAllowsAnything) {
  PortAllocator ports(asio::ip::make_address("127.0.0.1"), 20000, 20100);
  AgentInfo info;
  uint32_t p = 12345;
  EXPECT_EQ(ApplyAllowedPorts(info, ports, &p), std::nullopt);
  EXPECT_EQ(p, 12345u);
}

TEST(AllowedPortsTest, ExplicitPortsInAndOut) {
  PortAllocator ports(asio::ip::make_address("127.0.0.1"), 20000, 20100);
  AgentInfo info;
  info.agent_id = "db-7";
  info.allowed_ports = {{20080, 20080}, {20090, 20099}};
  for (uint32_t ok : {20080u, 20090u, 20099u}) {
    uint32_t p = ok;
    EXPECT_EQ(ApplyAllowedPorts(info, ports, &p), std::nullopt) << ok;
  }
  uint32_t p = 20081;
  auto r = ApplyAllowedPorts(info, ports, &p);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->code, wire::v1::REFUSAL_CODE_DENIED);
  EXPECT_EQ(r->reason, "agent \"db-7\" may not use port 20081 (allowed: 20080, 20090-20099)");
}

TEST(AllowedPortsTest, ZeroPicksAFreeAllowedPort) {
  const uint16_t base = FreeWindow(8);
  ASSERT_NE(base, 0);
  PortAllocator ports(asio::ip::make_address("127.0.0.1"), base, base + 7);
  AgentInfo info;
  info.agent_id = "db-7";
  info.allowed_ports = {{static_cast<uint16_t>(base + 2), static_cast<uint16_t>(base + 3)}};
  // One of the two is taken: the other is chosen.
  asio::io_context io;
  asio::ip::tcp::acceptor taken(io, {asio::ip::make_address("127.0.0.1"),
                                     static_cast<uint16_t>(base + 2)});
  for (int i = 0; i < 10; ++i) {
    uint32_t p = 0;
    EXPECT_EQ(ApplyAllowedPorts(info, ports, &p), std::nullopt);
    EXPECT_EQ(p, base + 3u);
  }
  asio::ip::tcp::acceptor also(io, {asio::ip::make_address("127.0.0.1"),
                                    static_cast<uint16_t>(base + 3)});
  uint32_t p = 0;
  auto r = ApplyAllowedPorts(info, ports, &p);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->code, wire::v1::REFUSAL_CODE_LIMIT);
}

}  // namespace
}  // namespace reitunnel::server
