#include "client/proxy_header.h"

#include "common/proxy_protocol/proxy_protocol.h"
#include "gtest/gtest.h"

namespace reitunnel::client {
namespace {

wire::v1::StartRelay Relay(const std::string& visitor, const std::string& public_addr) {
  wire::v1::StartRelay r;
  r.set_tunnel_id("t1");
  r.set_visitor_addr(visitor);
  r.set_public_addr(public_addr);
  return r;
}

TEST(ProxyHeaderTest, NoneWhenTheTunnelHasNoProxyProtocol) {
  EXPECT_EQ(ProxyHeaderFor("", Relay("203.0.113.7:5555", "127.0.0.1:20080")), "");
}

TEST(ProxyHeaderTest, V1CarriesVisitorAndPublicEndpoints) {
  EXPECT_EQ(ProxyHeaderFor("v1", Relay("203.0.113.7:5555", "127.0.0.1:20080")),
            "PROXY TCP4 203.0.113.7 127.0.0.1 5555 20080\r\n");
  EXPECT_EQ(ProxyHeaderFor("v1", Relay("[2001:db8::1]:443", "[::1]:20080")),
            "PROXY TCP6 2001:db8::1 ::1 443 20080\r\n");
}

TEST(ProxyHeaderTest, V2DecodesToTheSameEndpoints) {
  const std::string h = ProxyHeaderFor("v2", Relay("203.0.113.7:5555", "127.0.0.1:20080"));
  proxy_protocol::DecodeResult d = proxy_protocol::Decode(h);
  ASSERT_EQ(d.state, proxy_protocol::DecodeResult::State::kDone) << d.error;
  EXPECT_EQ(d.consumed, h.size());
  EXPECT_EQ(d.header.command, proxy_protocol::Command::kProxy);
  ASSERT_TRUE(d.header.source && d.header.destination);
  EXPECT_EQ(d.header.source->address.to_string(), "203.0.113.7");
  EXPECT_EQ(d.header.source->port, 5555);
  EXPECT_EQ(d.header.destination->address.to_string(), "127.0.0.1");
  EXPECT_EQ(d.header.destination->port, 20080);
}

TEST(ProxyHeaderTest, AnAddressThatDoesNotParseIsNeverGuessed) {
  EXPECT_EQ(ProxyHeaderFor("v1", Relay("somewhere", "127.0.0.1:20080")), "PROXY UNKNOWN\r\n");
  const std::string h = ProxyHeaderFor("v2", Relay("203.0.113.7:5555", ""));
  proxy_protocol::DecodeResult d = proxy_protocol::Decode(h);
  ASSERT_EQ(d.state, proxy_protocol::DecodeResult::State::kDone) << d.error;
  EXPECT_EQ(d.header.command, proxy_protocol::Command::kLocal);
  EXPECT_FALSE(d.header.source.has_value());
}

}  // namespace
}  // namespace reitunnel::client
