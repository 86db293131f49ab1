#include "common/transport/url/server_address.h"

#include "gtest/gtest.h"

namespace reitunnel::transport::url {
namespace {

struct Good {
  const char* in;
  LinkScheme scheme;
  const char* host;
  uint16_t port;
  const char* path;
  const char* host_header;
};

TEST(ServerAddressTest, AcceptedForms) {
  const Good cases[] = {
      {"127.0.0.1:7000", LinkScheme::kTcp, "127.0.0.1", 7000, "", "127.0.0.1:7000"},
      {"tunnel.example.com:7000", LinkScheme::kTcp, "tunnel.example.com", 7000, "",
       "tunnel.example.com:7000"},
      {"[::1]:7000", LinkScheme::kTcp, "::1", 7000, "", "[::1]:7000"},
      {"ws://example.com", LinkScheme::kWs, "example.com", 80, "/reitunnel", "example.com"},
      {"ws://example.com:8080/tun", LinkScheme::kWs, "example.com", 8080, "/tun",
       "example.com:8080"},
      {"wss://example.com/a/b?x=1", LinkScheme::kWss, "example.com", 443, "/a/b?x=1",
       "example.com"},
      {"wss://example.com:443/", LinkScheme::kWss, "example.com", 443, "/", "example.com"},
      {"WSS://Example.com:8443", LinkScheme::kWss, "Example.com", 8443, "/reitunnel",
       "Example.com:8443"},
      {"ws://[2001:db8::1]:9000/x", LinkScheme::kWs, "2001:db8::1", 9000, "/x",
       "[2001:db8::1]:9000"},
      {"ws://[::1]/x", LinkScheme::kWs, "::1", 80, "/x", "[::1]"},
      {"ws://example.com?x=1", LinkScheme::kWs, "example.com", 80, "/reitunnel?x=1", "example.com"},
      {"ws://10.0.0.1:80/p", LinkScheme::kWs, "10.0.0.1", 80, "/p", "10.0.0.1"},
  };
  for (const Good& c : cases) {
    SCOPED_TRACE(c.in);
    absl::StatusOr<ServerAddress> a = ParseServerAddress(c.in);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->scheme, c.scheme);
    EXPECT_EQ(a->host, c.host);
    EXPECT_EQ(a->port, c.port);
    EXPECT_EQ(a->path, c.path);
    EXPECT_EQ(a->HostHeader(), c.host_header);
  }
}

TEST(ServerAddressTest, HostPortAndSchemeName) {
  absl::StatusOr<ServerAddress> a = ParseServerAddress("wss://[fd00::2]/x");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->HostPort(), "[fd00::2]:443");
  EXPECT_STREQ(a->scheme_name(), "wss");
  EXPECT_TRUE(a->is_websocket());
  EXPECT_FALSE(ParseServerAddress("h:1")->is_websocket());
}

struct Bad {
  const char* in;
  const char* message_part;
};

TEST(ServerAddressTest, RejectedFormsSayWhy) {
  const Bad cases[] = {
      {"", "empty"},
      {"example.com", "missing port"},
      {"example.com:0", "port must be"},
      {"example.com:65536", "port must be"},
      {"example.com:http", "port must be"},
      {"::1:7000", "brackets"},
      {"[::1:7000", "']'"},
      {"[zz::1]:7000", "invalid IPv6"},
      {"http://example.com/", "unsupported scheme"},
      {"tcp://example.com:7000", "unsupported scheme"},
      {"ws://", "missing host"},
      {"ws://:80/x", "missing host"},
      {"ws://example.com:/x", "port"},
      {"ws://user:secret@example.com/x", "credentials"},
      {"ws://exa mple.com/x", "host name may only"},
      {"ws://example.com/a b", "path"},
      {"ws://example.com/a#frag", "path"},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.in);
    absl::StatusOr<ServerAddress> a = ParseServerAddress(c.in);
    ASSERT_FALSE(a.ok());
    EXPECT_NE(std::string(a.status().message()).find(c.message_part), std::string::npos)
        << a.status();
    EXPECT_EQ(std::string(a.status().message()).find("secret"), std::string::npos);
  }
}

}  // namespace
}  // namespace reitunnel::transport::url
