#include "common/transport/url/proxy_url.h"

#include "common/transport/url/percent.h"
#include "gtest/gtest.h"

namespace reitunnel::transport::url {
namespace {

TEST(ProxyUrlTest, SchemeDefaultsToHttpAndPortTo1080AsCurl) {
  absl::StatusOr<ProxyUrl> p = ParseProxyUrl("proxy.corp");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->host, "proxy.corp");
  EXPECT_EQ(p->port, 1080);
  EXPECT_FALSE(p->credentials.has_value());
  EXPECT_EQ(p->Redacted(), "http://proxy.corp:1080");
}

TEST(ProxyUrlTest, FullFormWithCredentials) {
  absl::StatusOr<ProxyUrl> p = ParseProxyUrl("HTTP://alice:s3cr%40t%3A@10.1.2.3:3128/");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->host, "10.1.2.3");
  EXPECT_EQ(p->port, 3128);
  ASSERT_TRUE(p->credentials.has_value());
  EXPECT_EQ(p->credentials->user, "alice");
  EXPECT_EQ(p->credentials->password, "s3cr@t:");
  EXPECT_EQ(p->HostPort(), "10.1.2.3:3128");
  EXPECT_EQ(p->Redacted(), "http://alice:***@10.1.2.3:3128");
}

TEST(ProxyUrlTest, UserWithoutPasswordAndRawAtInPassword) {
  absl::StatusOr<ProxyUrl> p = ParseProxyUrl("http://bob@proxy:8080");
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(p->credentials.has_value());
  EXPECT_EQ(p->credentials->user, "bob");
  EXPECT_EQ(p->credentials->password, "");
  p = ParseProxyUrl("http://bob:p@ss@proxy:8080");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->credentials->password, "p@ss");
  EXPECT_EQ(p->host, "proxy");
}

TEST(ProxyUrlTest, Ipv6AndIgnoredPath) {
  absl::StatusOr<ProxyUrl> p = ParseProxyUrl("http://[::1]:3128/some/path?q");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->host, "::1");
  EXPECT_EQ(p->port, 3128);
  EXPECT_EQ(p->HostPort(), "[::1]:3128");
}

TEST(ProxyUrlTest, UnsupportedSchemesSaySo) {
  for (const char* in : {"https://p:443", "socks5://p:1080", "socks5h://u:pw@p", "socks4://p",
                         "socks4a://p", "socks://p"}) {
    SCOPED_TRACE(in);
    absl::StatusOr<ProxyUrl> p = ParseProxyUrl(in);
    ASSERT_FALSE(p.ok());
    EXPECT_TRUE(absl::IsUnimplemented(p.status()));
    EXPECT_NE(std::string(p.status().message()).find("not supported"), std::string::npos);
  }
  absl::StatusOr<ProxyUrl> p = ParseProxyUrl("ftp://p");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(std::string(p.status().message()).find("unsupported proxy scheme 'ftp'"),
            std::string::npos);
}

TEST(ProxyUrlTest, ErrorsNeverEchoThePassword) {
  for (const char* in :
       {"http://u:hunter2@", "http://u:hunter2@bad host:1", "http://u:hunter2@h:0",
        "http://u:hun%zzter2@h:1", "http://u:hunter2@[::1", "bad-scheme!://u:hunter2@h"}) {
    SCOPED_TRACE(in);
    absl::StatusOr<ProxyUrl> p = ParseProxyUrl(in);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(std::string(p.status().message()).find("hunter2"), std::string::npos) << p.status();
    EXPECT_EQ(std::string(p.status().message()).find("hun"), std::string::npos) << p.status();
  }
}

TEST(PercentDecodeTest, Cases) {
  EXPECT_EQ(*PercentDecode("a%20b%2fc+d"), "a b/c+d");
  EXPECT_EQ(*PercentDecode("%41%6a"), "Aj");
  EXPECT_EQ(*PercentDecode(""), "");
  EXPECT_FALSE(PercentDecode("%").ok());
  EXPECT_FALSE(PercentDecode("%4").ok());
  EXPECT_FALSE(PercentDecode("%g1").ok());
}

}  // namespace
}  // namespace reitunnel::transport::url
