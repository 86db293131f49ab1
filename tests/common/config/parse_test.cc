#include "common/config/parse.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace reitunnel::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

template <typename T>
std::string ErrorOf(const absl::StatusOr<T>& result) {
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(result.status().message());
}

TEST(ParseHostPortTest, AcceptsHostnamesIPv4AndBracketedIPv6) {
  absl::StatusOr<HostPort> hp = ParseHostPort("127.0.0.1:7000");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 7000);

  hp = ParseHostPort("[::1]:7000");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 7000);

  hp = ParseHostPort("localhost:0");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "localhost");
  EXPECT_EQ(hp->port, 0);

  hp = ParseHostPort("svc-1.ns_x.example.com:65535");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->port, 65535);

  hp = ParseHostPort("[fe80::1%eth0]:80");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "fe80::1%eth0");
}

TEST(ParseHostPortTest, ToStringBracketsIPv6) {
  EXPECT_EQ((HostPort{"::1", 80}).ToString(), "[::1]:80");
  EXPECT_EQ((HostPort{"example.com", 0}).ToString(), "example.com:0");
  absl::StatusOr<HostPort> hp = ParseHostPort("[2001:db8::5]:443");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->ToString(), "[2001:db8::5]:443");
}

TEST(ParseHostPortTest, RejectsMalformed) {
  EXPECT_EQ(ErrorOf(ParseHostPort("")), "empty address (expected HOST:PORT)");
  EXPECT_EQ(ErrorOf(ParseHostPort("localhost")), "missing port (expected HOST:PORT)");
  EXPECT_EQ(ErrorOf(ParseHostPort("localhost:")), "missing port (expected HOST:PORT)");
  EXPECT_EQ(ErrorOf(ParseHostPort(":7000")), "missing host (expected HOST:PORT)");
  EXPECT_THAT(ErrorOf(ParseHostPort("::1:7000")), HasSubstr("IPv6 addresses need brackets"));
  EXPECT_EQ(ErrorOf(ParseHostPort("[::1]")), "missing port (expected [IPV6]:PORT)");
  EXPECT_EQ(ErrorOf(ParseHostPort("[::1]7000")), "missing port (expected [IPV6]:PORT)");
  EXPECT_EQ(ErrorOf(ParseHostPort("[::1:7000")), "missing ']' after IPv6 address");
  EXPECT_EQ(ErrorOf(ParseHostPort("[zz::q]:1")), "invalid IPv6 address");
  EXPECT_EQ(ErrorOf(ParseHostPort("[127.0.0.1]:1")), "invalid IPv6 address");
  EXPECT_EQ(ErrorOf(ParseHostPort("[fe80::1%]:1")), "invalid IPv6 address");
  EXPECT_EQ(ErrorOf(ParseHostPort("999.1.1.1:80")), "invalid IPv4 address");
  EXPECT_EQ(ErrorOf(ParseHostPort("a b:80")), "invalid character in host");
  EXPECT_EQ(ErrorOf(ParseHostPort("http://x:80")), "expected HOST:PORT, not a URL");
  EXPECT_EQ(ErrorOf(ParseHostPort(".x:80")), "invalid host name");
  for (const char* port : {"65536", "-1", "+1", "7 0", "0x10", "123456", "http"}) {
    EXPECT_EQ(ErrorOf(ParseHostPort(std::string("host:") + port)),
              "port must be a number from 0 to 65535")
        << port;
  }
}

TEST(ParseHostTest, AcceptsHostsAndStripsBrackets) {
  EXPECT_EQ(*ParseHost("0.0.0.0"), "0.0.0.0");
  EXPECT_EQ(*ParseHost("::"), "::");
  EXPECT_EQ(*ParseHost("[::]"), "::");
  EXPECT_EQ(*ParseHost("localhost"), "localhost");
  EXPECT_FALSE(ParseHost("").ok());
  EXPECT_FALSE(ParseHost("host:80").ok());
  EXPECT_FALSE(ParseHost("1.2.3.4:80").ok());
  EXPECT_FALSE(ParseHost("[::1").ok());
  EXPECT_FALSE(ParseHost("300.0.0.1").ok());
}

TEST(ParsePortRangeTest, AcceptsRangesAndSinglePorts) {
  absl::StatusOr<PortRange> r = ParsePortRange("20000-20100");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->low, 20000);
  EXPECT_EQ(r->high, 20100);
  EXPECT_TRUE(r->Contains(20000));
  EXPECT_TRUE(r->Contains(20100));
  EXPECT_FALSE(r->Contains(19999));
  EXPECT_FALSE(r->Contains(20101));
  EXPECT_FALSE(r->Contains(20000 + 65536));

  r = ParsePortRange("20080");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->low, 20080);
  EXPECT_EQ(r->high, 20080);

  r = ParsePortRange("1-65535");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->low, 1);
  EXPECT_EQ(r->high, 65535);
  EXPECT_TRUE(ParsePortRange("5-5").ok());
}

TEST(ParsePortRangeTest, RejectsBadRanges) {
  EXPECT_EQ(ErrorOf(ParsePortRange("200-100")), "low port 200 is above high port 100");
  EXPECT_EQ(ErrorOf(ParsePortRange("0-10")), "ports must be from 1 to 65535");
  EXPECT_EQ(ErrorOf(ParsePortRange("0")), "ports must be from 1 to 65535");
  EXPECT_EQ(ErrorOf(ParsePortRange("70000")), "ports must be from 1 to 65535");
  EXPECT_EQ(ErrorOf(ParsePortRange("10-70000")), "ports must be from 1 to 65535");
  for (const char* bad : {"", "abc", "10-", "-10", "1-2-3", " 1-2", "1 - 2", "1..2", "+1"}) {
    EXPECT_THAT(ErrorOf(ParsePortRange(bad)), HasSubstr("not a port range")) << bad;
  }
}

TEST(ParseTunnelSpecTest, AcceptsProductSyntax) {
  absl::StatusOr<v1::TunnelConfig> t = ParseTunnelSpec("web=20080:127.0.0.1:8080");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->name(), "web");
  EXPECT_EQ(t->remote_port(), 20080u);
  EXPECT_EQ(t->local_addr(), "127.0.0.1:8080");

  t = ParseTunnelSpec("web=0:[::1]:8080");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->remote_port(), 0u);
  EXPECT_EQ(t->local_addr(), "[::1]:8080");

  t = ParseTunnelSpec("a.b_C-9=65535:db.internal:1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->name(), "a.b_C-9");
  EXPECT_EQ(t->remote_port(), 65535u);
}

TEST(ParseTunnelSpecTest, TcpKindMayBeWrittenOut) {
  absl::StatusOr<v1::TunnelConfig> t = ParseTunnelSpec("web=tcp:20080:127.0.0.1:8080");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->remote_port(), 20080u);
  EXPECT_EQ(t->local_addr(), "127.0.0.1:8080");
  EXPECT_EQ(t->kind(), "");
  t = ParseTunnelSpec("dns=udp:5353:127.0.0.1:53");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->kind(), "udp");
  EXPECT_EQ(t->remote_port(), 5353u);
  EXPECT_EQ(t->local_addr(), "127.0.0.1:53");
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("dns=udp:53:127.0.0.1:53,proxy_protocol=v2")),
              HasSubstr("proxy_protocol is for tcp, http and tls tunnels"));
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("dns=udp:x:127.0.0.1:53")), HasSubstr("remote port"));
}

TEST(ParseTunnelSpecTest, TakesRoutedKinds) {
  absl::StatusOr<v1::TunnelConfig> t = ParseTunnelSpec("site=http:app.example.com:127.0.0.1:80");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->kind(), "http");
  EXPECT_EQ(t->hostname(), "app.example.com");
  EXPECT_EQ(t->remote_port(), 0u);
  EXPECT_EQ(t->local_addr(), "127.0.0.1:80");
  EXPECT_FALSE(t->has_http());

  t = ParseTunnelSpec("s=tls:*.example.com:[::1]:8443,proxy_protocol=v2");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->kind(), "tls");
  EXPECT_EQ(t->hostname(), "*.example.com");
  EXPECT_EQ(t->local_addr(), "[::1]:8443");
  EXPECT_EQ(t->proxy_protocol(), "v2");

  t = ParseTunnelSpec("site=http:a.example.com:h:1,basic_auth=alice:s3:cret,x_forwarded=false");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->http().basic_auth_user(), "alice");
  EXPECT_EQ(t->http().basic_auth_password(), "s3:cret");  // only the first ':' splits
  ASSERT_TRUE(t->http().has_x_forwarded());
  EXPECT_FALSE(t->http().x_forwarded());

  EXPECT_THAT(ErrorOf(ParseTunnelSpec("site=http:bad_name:h:1")), HasSubstr("invalid hostname"));
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("site=http:a.*.com:h:1")), HasSubstr("invalid hostname"));
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("site=http:a.example.com")),
              HasSubstr("missing local address"));
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("site=http:a.example.com:h:0")),
              HasSubstr("local address"));
  // Basic auth belongs to http tunnels; the error never quotes the password.
  std::string err = ErrorOf(ParseTunnelSpec("s=tls:a.example.com:h:1,basic_auth=u:secret"));
  EXPECT_THAT(err, HasSubstr("unknown tunnel option"));
  err = ErrorOf(ParseTunnelSpec("s=http:a.example.com:h:1,basic_auth=secret"));
  EXPECT_THAT(err, HasSubstr("basic_auth needs USER:PASSWORD"));
  EXPECT_THAT(err, Not(HasSubstr("secret")));
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("s=http:a.example.com:h:1,x_forwarded=maybe")),
              HasSubstr("true or false"));
}

TEST(ParseTunnelSpecTest, TakesProxyProtocolOption) {
  absl::StatusOr<v1::TunnelConfig> t = ParseTunnelSpec("web=0:127.0.0.1:8080,proxy_protocol=v2");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->local_addr(), "127.0.0.1:8080");
  EXPECT_EQ(t->proxy_protocol(), "v2");
  t = ParseTunnelSpec("web=0:[::1]:8080,proxy_protocol=v1");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->local_addr(), "[::1]:8080");
  EXPECT_EQ(t->proxy_protocol(), "v1");
  EXPECT_EQ(ParseTunnelSpec("web=0:h:1")->proxy_protocol(), "");

  EXPECT_THAT(ErrorOf(ParseTunnelSpec("web=0:h:1,proxy_protocol=v3")),
              HasSubstr("proxy_protocol must be v1 or v2"));
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("web=0:h:1,proxy_protocol")), HasSubstr("needs a value"));
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("web=0:h:1,color=red")),
              HasSubstr("unknown tunnel option \"color\""));
}

TEST(ParseTunnelSpecTest, RejectsMalformed) {
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("web")), HasSubstr("missing '='"));
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("=1:h:1")), HasSubstr("invalid tunnel name"));
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("my web=1:h:1")), HasSubstr("invalid tunnel name"));
  EXPECT_THAT(ErrorOf(ParseTunnelSpec(std::string(65, 'a') + "=1:h:1")),
              HasSubstr("invalid tunnel name"));
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("web=20080")), HasSubstr("missing local address"));
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("web=x:h:1")), HasSubstr("remote port must be"));
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("web=70000:h:1")), HasSubstr("remote port must be"));
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("web=:h:1")), HasSubstr("remote port must be"));
  EXPECT_EQ(ErrorOf(ParseTunnelSpec("web=1:h:0")), "local address: port must be from 1 to 65535");
  EXPECT_EQ(ErrorOf(ParseTunnelSpec("web=1:h:70000")),
            "local address: port must be a number from 0 to 65535");
  EXPECT_EQ(ErrorOf(ParseTunnelSpec("web=1:h")),
            "local address: missing port (expected HOST:PORT)");
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("web=1:::1:80")), HasSubstr("need brackets"));
  EXPECT_THAT(ErrorOf(ParseTunnelSpec("web=1:")), HasSubstr("local address: empty address"));
}

TEST(ParseHookSpecTest, AcceptsGrpcTargets) {
  for (const char* address :
       {"127.0.0.1:50051", "hooks.svc:443", "[::1]:50051", "dns:///svc:50051",
        "dns://8.8.8.8/svc.example.com:443", "dns:svc:1", "unix:///tmp/hook.sock", "unix:rel.sock",
        "unix-abstract:hook", "ipv4:10.0.0.1:1,10.0.0.2:2", "ipv6:[::1]:50051"}) {
    absl::StatusOr<v1::HookConfig> h = ParseHookSpec(std::string("policy=") + address);
    ASSERT_TRUE(h.ok()) << address << ": " << h.status();
    EXPECT_EQ(h->name(), "policy");
    EXPECT_EQ(h->address(), address);
  }
}

TEST(ParseHookSpecTest, RejectsMalformed) {
  EXPECT_EQ(ErrorOf(ParseHookSpec("policy")), "missing '=' (expected NAME=ADDRESS)");
  EXPECT_THAT(ErrorOf(ParseHookSpec("=h:1")), HasSubstr("invalid hook name"));
  EXPECT_THAT(ErrorOf(ParseHookSpec("a b=h:1")), HasSubstr("invalid hook name"));
  EXPECT_EQ(ErrorOf(ParseHookSpec("p=")), "hook address: missing hook address");
  EXPECT_EQ(ErrorOf(ParseHookSpec("p=h:0")), "hook address: port must be from 1 to 65535");
  EXPECT_THAT(ErrorOf(ParseHookSpec("p=h")), HasSubstr("missing port"));
  EXPECT_THAT(ErrorOf(ParseHookSpec("p=unix:")), HasSubstr("missing socket path"));
  EXPECT_THAT(ErrorOf(ParseHookSpec("p=unix://")), HasSubstr("missing socket path"));
  EXPECT_THAT(ErrorOf(ParseHookSpec("p=dns:///svc")), HasSubstr("dns target: missing port"));
  EXPECT_THAT(ErrorOf(ParseHookSpec("p=dns://svc:1")), HasSubstr("expected dns:///HOST:PORT"));
  EXPECT_THAT(ErrorOf(ParseHookSpec("p=ipv4:1.2.3.4:1,bad")), HasSubstr("missing port"));
  EXPECT_THAT(ErrorOf(ParseHookSpec("p=http://h:1")), HasSubstr("not a URL"));
}

TEST(NameRulesTest, TunnelAndHookNames) {
  EXPECT_TRUE(IsValidTunnelName("web"));
  EXPECT_TRUE(IsValidTunnelName("A-z_0.9"));
  EXPECT_TRUE(IsValidTunnelName(std::string(64, 'x')));
  EXPECT_FALSE(IsValidTunnelName(std::string(65, 'x')));
  EXPECT_FALSE(IsValidTunnelName(""));
  EXPECT_FALSE(IsValidTunnelName("a b"));
  EXPECT_FALSE(IsValidTunnelName("a/b"));
  EXPECT_FALSE(IsValidTunnelName("a=b"));
  EXPECT_FALSE(IsValidTunnelName("caf\xc3\xa9"));
  EXPECT_TRUE(IsValidHookName("policy-1"));
  EXPECT_FALSE(IsValidHookName("policy:1"));
}

TEST(NameRulesTest, LabelKeys) {
  EXPECT_TRUE(IsValidLabelKey("team"));
  EXPECT_TRUE(IsValidLabelKey("app.kubernetes.io/name"));
  EXPECT_TRUE(IsValidLabelKey(std::string(128, 'k')));
  EXPECT_FALSE(IsValidLabelKey(std::string(129, 'k')));
  EXPECT_FALSE(IsValidLabelKey(""));
  EXPECT_FALSE(IsValidLabelKey("a b"));
  EXPECT_FALSE(IsValidLabelKey("a=b"));
}

}  // namespace
}  // namespace reitunnel::config
