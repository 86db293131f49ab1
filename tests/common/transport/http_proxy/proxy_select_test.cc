#include "common/transport/http_proxy/proxy_select.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace reitunnel::transport {
namespace {

using S = ProxyTargetScheme;

struct SelectCase {
  const char* name;
  S scheme;
  const char* host;
  std::optional<std::string> flag;
  ProxyEnv env;
  // Expected: proxy "host:port" or "" for direct, and the deciding source.
  const char* proxy;
  const char* source;
};

TEST(SelectProxyTest, CurlRules) {
  const SelectCase cases[] = {
      {"nothing set", S::kHttps, "srv", std::nullopt, {}, "", ""},
      {"https_proxy for https",
       S::kHttps,
       "srv",
       std::nullopt,
       {{"https_proxy", "p1:3128"}},
       "p1:3128",
       "https_proxy"},
      {"HTTPS_PROXY for https",
       S::kHttps,
       "srv",
       std::nullopt,
       {{"HTTPS_PROXY", "p2:3128"}},
       "p2:3128",
       "HTTPS_PROXY"},
      {"lowercase wins",
       S::kHttps,
       "srv",
       std::nullopt,
       {{"https_proxy", "low:1"}, {"HTTPS_PROXY", "up:2"}},
       "low:1",
       "https_proxy"},
      {"empty lowercase counts as unset",
       S::kHttps,
       "srv",
       std::nullopt,
       {{"https_proxy", ""}, {"HTTPS_PROXY", "up:2"}},
       "up:2",
       "HTTPS_PROXY"},
      {"http_proxy not used for https",
       S::kHttps,
       "srv",
       std::nullopt,
       {{"http_proxy", "p:1"}},
       "",
       ""},
      {"http_proxy for http",
       S::kHttp,
       "srv",
       std::nullopt,
       {{"http_proxy", "p:1"}},
       "p:1",
       "http_proxy"},
      {"HTTP_PROXY for http (unlike curl, like Go)",
       S::kHttp,
       "srv",
       std::nullopt,
       {{"HTTP_PROXY", "up:1"}},
       "up:1",
       "HTTP_PROXY"},
      {"http_proxy beats HTTP_PROXY",
       S::kWs,
       "srv",
       std::nullopt,
       {{"http_proxy", "low:1"}, {"HTTP_PROXY", "up:2"}},
       "low:1",
       "http_proxy"},
      {"HTTP_PROXY for ws",
       S::kWs,
       "srv",
       std::nullopt,
       {{"HTTP_PROXY", "up:1"}},
       "up:1",
       "HTTP_PROXY"},
      {"HTTP_PROXY ignored under CGI (httpoxy)",
       S::kWs,
       "srv",
       std::nullopt,
       {{"HTTP_PROXY", "evil:1"}, {"REQUEST_METHOD", "GET"}},
       "",
       ""},
      {"HTTP_PROXY never for https",
       S::kHttps,
       "srv",
       std::nullopt,
       {{"HTTP_PROXY", "up:1"}},
       "",
       ""},
      {"all_proxy fallback",
       S::kHttps,
       "srv",
       std::nullopt,
       {{"all_proxy", "a:1"}},
       "a:1",
       "all_proxy"},
      {"ALL_PROXY fallback",
       S::kWs,
       "srv",
       std::nullopt,
       {{"ALL_PROXY", "A:1"}},
       "A:1",
       "ALL_PROXY"},
      {"scheme variable beats all_proxy",
       S::kHttps,
       "srv",
       std::nullopt,
       {{"all_proxy", "a:1"}, {"HTTPS_PROXY", "s:2"}},
       "s:2",
       "HTTPS_PROXY"},
      {"ws uses ws_proxy first",
       S::kWs,
       "srv",
       std::nullopt,
       {{"ws_proxy", "w:1"}, {"http_proxy", "h:2"}},
       "w:1",
       "ws_proxy"},
      {"ws falls back to http_proxy",
       S::kWs,
       "srv",
       std::nullopt,
       {{"http_proxy", "h:2"}},
       "h:2",
       "http_proxy"},
      {"ws does not use https_proxy",
       S::kWs,
       "srv",
       std::nullopt,
       {{"https_proxy", "s:2"}},
       "",
       ""},
      {"wss uses WSS_PROXY",
       S::kWss,
       "srv",
       std::nullopt,
       {{"WSS_PROXY", "w:1"}, {"https_proxy", "s:2"}},
       "w:1",
       "WSS_PROXY"},
      {"wss falls back to HTTPS_PROXY",
       S::kWss,
       "srv",
       std::nullopt,
       {{"HTTPS_PROXY", "s:2"}, {"http_proxy", "h:3"}},
       "s:2",
       "HTTPS_PROXY"},
      {"--proxy beats the environment",
       S::kHttps,
       "srv",
       std::string("flag:8080"),
       {{"https_proxy", "env:1"}},
       "flag:8080",
       "--proxy"},
      {"--proxy empty means direct",
       S::kHttps,
       "srv",
       std::string(""),
       {{"https_proxy", "env:1"}},
       "",
       "--proxy"},
      {"no_proxy applies to --proxy too",
       S::kHttps,
       "srv.corp",
       std::string("flag:8080"),
       {{"no_proxy", ".corp"}},
       "",
       "no_proxy"},
      {"NO_PROXY when no_proxy unset",
       S::kHttps,
       "srv.corp",
       std::nullopt,
       {{"NO_PROXY", "corp"}, {"https_proxy", "p:1"}},
       "",
       "NO_PROXY"},
      {"no_proxy wins over NO_PROXY",
       S::kHttps,
       "srv.corp",
       std::nullopt,
       {{"no_proxy", "other"}, {"NO_PROXY", "corp"}, {"https_proxy", "p:1"}},
       "p:1",
       "https_proxy"},
      {"no_proxy not matching",
       S::kHttps,
       "srv.example",
       std::nullopt,
       {{"no_proxy", "corp"}, {"https_proxy", "p:1"}},
       "p:1",
       "https_proxy"},
      {"no_proxy star",
       S::kWss,
       "anything",
       std::nullopt,
       {{"no_proxy", "*"}, {"https_proxy", "p:1"}},
       "",
       "no_proxy"},
      {"default port 1080, scheme-less",
       S::kHttps,
       "srv",
       std::nullopt,
       {{"https_proxy", "proxy.corp"}},
       "proxy.corp:1080",
       "https_proxy"},
      {"IPv6 target vs CIDR",
       S::kWs,
       "fd00::5",
       std::nullopt,
       {{"no_proxy", "fd00::/8"}, {"http_proxy", "p:1"}},
       "",
       "no_proxy"},
  };
  for (const SelectCase& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<ProxyChoice> got = SelectProxy(c.scheme, c.host, c.flag, c.env);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->proxy ? got->proxy->HostPort() : "", c.proxy);
    EXPECT_EQ(got->source, c.source);
  }
}

TEST(SelectProxyTest, UnsupportedProxyNamesItsSourceNotItsValue) {
  ProxyEnv env = {{"HTTPS_PROXY", "socks5://user:hunter2@p:1080"}};
  absl::StatusOr<ProxyChoice> got = SelectProxy(S::kHttps, "srv", std::nullopt, env);
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(absl::IsUnimplemented(got.status()));
  const std::string msg(got.status().message());
  EXPECT_EQ(msg.rfind("HTTPS_PROXY: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("SOCKS proxies are not supported"), std::string::npos);
  EXPECT_EQ(msg.find("hunter2"), std::string::npos);

  got = SelectProxy(S::kHttps, "srv", std::string("https://u:hunter2@p"), {});
  ASSERT_FALSE(got.ok());
  EXPECT_NE(std::string(got.status().message()).find("--proxy: "), std::string::npos);
  EXPECT_NE(std::string(got.status().message()).find("https:// proxies are not supported"),
            std::string::npos);
  EXPECT_EQ(std::string(got.status().message()).find("hunter2"), std::string::npos);
}

TEST(SelectProxyTest, CredentialsComeThrough) {
  absl::StatusOr<ProxyChoice> got = SelectProxy(
      S::kWss, "srv", std::nullopt, {{"https_proxy", "http://me:p%40ss@10.0.0.1:3128"}});
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->proxy && got->proxy->credentials);
  EXPECT_EQ(got->proxy->credentials->user, "me");
  EXPECT_EQ(got->proxy->credentials->password, "p@ss");
}

TEST(SelectProxyTest, SchemeForServerAddress) {
  EXPECT_EQ(ProxySchemeFor(*url::ParseServerAddress("ws://h/x")), S::kWs);
  EXPECT_EQ(ProxySchemeFor(*url::ParseServerAddress("wss://h/x")), S::kWss);
  // The plain TCP link, TLS or not, is tunnelled like https.
  EXPECT_EQ(ProxySchemeFor(*url::ParseServerAddress("h:7000")), S::kHttps);
}

TEST(SelectProxyTest, ProcessEnvironmentIsRead) {
  setenv("wss_proxy", "from-env:3128", 1);
  unsetenv("WSS_PROXY");
  setenv("HTTP_PROXY", "upper:1", 1);
  unsetenv("SOME_OTHER_PROXY");
  ProxyEnv env = ProxyEnvFromProcess();
  unsetenv("wss_proxy");
  unsetenv("HTTP_PROXY");
  EXPECT_EQ(env.at("wss_proxy"), "from-env:3128");
  EXPECT_EQ(env.at("HTTP_PROXY"), "upper:1");
  EXPECT_EQ(env.count("SOME_OTHER_PROXY"), 0u);
}

struct NoProxyCase {
  const char* host;
  const char* list;
  bool match;
};

TEST(NoProxyTest, MatchesLikeCurl) {
  const NoProxyCase cases[] = {
      {"example.com", "example.com", true},
      {"www.example.com", "example.com", true},
      {"www.example.com", ".example.com", true},
      {"example.com", ".example.com", true},
      {"notexample.com", "example.com", false},
      {"example.com.evil", "example.com", false},
      {"WWW.Example.COM", "example.com", true},
      {"www.example.com", "EXAMPLE.com", true},
      {"example.com.", "example.com", true},
      {"www.example.com", "example.com.", true},
      {"www.example.com", "localhost,example.com", true},
      {"www.example.com", "localhost, example.com", true},
      {"www.example.com", " localhost ,\texample.com , ", true},
      {"www.example.com", "localhost,,,example.com", true},
      // curl: a blank not followed by a comma ends the list.
      {"www.example.com", "localhost example.com", false},
      {"localhost", "localhost example.com", true},
      {"a.b", "*", true},
      {"a.b", " *", false},
      {"a.b", "*,x", false},  // '*' only counts alone
      {"a.b", "", false},
      {"", "a", false},
      {"example.com:8080", "example.com", false},  // callers pass the host only
      // IPv4: exact and CIDR; names never match addresses.
      {"10.1.2.3", "10.1.2.3", true},
      {"10.1.2.3", "10.1.2.4", false},
      {"10.1.2.3", "10.0.0.0/8", true},
      {"11.1.2.3", "10.0.0.0/8", false},
      {"192.168.7.1", "192.168.0.0/16", true},
      {"10.1.2.3", "10.1.2.3/32", true},
      {"10.1.2.3", "10.1.2.0/33", false},
      {"10.1.2.3", "10.1.2.0/x", false},
      {"10.1.2.3", "10.1.2.0/", false},
      {"10.1.2.3", "0.0.0.0/0", false},  // curl: /0 is an exact match
      {"127.0.0.1", "localhost", false},
      {"10.1.2.3", "1.2.3", false},  // no suffix matching for addresses
      // IPv6 (unbracketed), by address value and CIDR.
      {"::1", "::1", true},
      {"::1", "0:0:0:0:0:0:0:1", true},
      {"fd00::5", "fd00::/8", true},
      {"fe80::1", "fd00::/8", false},
      {"2001:db8::1", "2001:db8::/33", true},
      {"2001:db8:8000::1", "2001:db8::/33", false},
      {"2001:db8::1", "2001:db8::1/128", true},
      {"2001:db8::1", "2001:db8::/129", false},
      {"::1", "[::1]", false},  // curl wants list entries without brackets
      {"::1", "localhost,127.0.0.1,::1", true},
  };
  for (const NoProxyCase& c : cases) {
    EXPECT_EQ(NoProxyMatches(c.host, c.list), c.match)
        << "host '" << c.host << "' list '" << c.list << "'";
  }
}

}  // namespace
}  // namespace reitunnel::transport
