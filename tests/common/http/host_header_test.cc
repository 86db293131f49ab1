#include "common/http/host_header.h"

#include "gtest/gtest.h"

namespace reitunnel::http {
namespace {

TEST(HostHeaderTest, ParsesHostAndStripsPort) {
  EXPECT_EQ(ParseHostAndPort("Example.com"), "example.com");
  EXPECT_EQ(ParseHostAndPort("example.com:8080"), "example.com");
  EXPECT_EQ(ParseHostAndPort("example.com:"), "example.com");  // empty port is legal
  EXPECT_EQ(ParseHostAndPort("example.com.:80"), "example.com");
  EXPECT_EQ(ParseHostAndPort("[::1]:443"), "::1");
  EXPECT_EQ(ParseHostAndPort("[::FFFF:192.0.2.1]"), "::ffff:192.0.2.1");
  EXPECT_EQ(ParseHostAndPort("192.0.2.1:65535"), "192.0.2.1");
  EXPECT_EQ(ParseHostAndPort(""), "");
}

TEST(HostHeaderTest, RejectsMalformed) {
  for (const char* bad : {":80", ".", "a:65536", "a:-1", "a:1a", "a:000000", "::1", "[::1", "[]",
                          "[::1]80", "[fe80::1%25eth0]", "[example.com]", "a b", "a,b", "a;b",
                          "a%41", "u@a", "a/b", "a:80:80"}) {
    EXPECT_EQ(ParseHostAndPort(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace reitunnel::http
