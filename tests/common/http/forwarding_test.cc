#include "common/http/forwarding.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/common/http/test_util.h"

namespace reitunnel::http {
namespace {

using testing::ParseHead;

ForwardingOptions Options(std::string ip) {
  ForwardingOptions o;
  o.visitor_ip = std::move(ip);
  return o;
}

TEST(ForwardingTest, AddsXForwardedForBeforeTheEmptyLine) {
  const std::string raw = "GET /a HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\n\r\n";
  std::string out = RewriteHead(ParseHead(raw), Options("203.0.113.7"));
  EXPECT_EQ(out,
            "GET /a HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\n"
            "X-Forwarded-For: 203.0.113.7\r\n\r\n");
}

TEST(ForwardingTest, AppendsToTheLastExistingXForwardedFor) {
  const std::string raw =
      "GET / HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1\r\nHost: a\r\n"
      "x-forwarded-for: 10.0.0.2 \r\n\r\n";
  std::string out = RewriteHead(ParseHead(raw), Options("2001:db8::7"));
  EXPECT_EQ(out,
            "GET / HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1\r\nHost: a\r\n"
            "x-forwarded-for: 10.0.0.2, 2001:db8::7 \r\n\r\n");
  EXPECT_EQ(RewriteHead(ParseHead("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For:\r\n\r\n"),
                        Options("192.0.2.1")),
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n");
}

TEST(ForwardingTest, ReplacesProtoAndHostTheVisitorSent) {
  const std::string raw =
      "POST /x HTTP/1.1\r\nX-Forwarded-Proto: https\r\nHost: App.Example:8080\r\n"
      "X-Forwarded-Host: evil.example\r\nContent-Length: 3\r\n\r\n";
  ForwardingOptions o = Options("192.0.2.1");
  o.x_forwarded_proto = "http";
  o.x_forwarded_host = true;
  std::string out = RewriteHead(ParseHead(raw), o);
  EXPECT_EQ(out,
            "POST /x HTTP/1.1\r\nHost: App.Example:8080\r\nContent-Length: 3\r\n"
            "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: http\r\n"
            "X-Forwarded-Host: App.Example:8080\r\n\r\n");
}

TEST(ForwardingTest, NothingEnabledIsByteIdentical) {
  const std::string raw = "\r\nGET / HTTP/1.1\nHost: a\nX-Forwarded-Proto: spoof\n\n";
  ForwardingOptions o;
  o.x_forwarded_for = false;
  EXPECT_EQ(RewriteHead(ParseHead(raw), o), raw);
}

TEST(ForwardingTest, ForwardedHeader) {
  ForwardingOptions o = Options("2001:db8::1");
  o.x_forwarded_for = false;
  o.forwarded = true;
  o.x_forwarded_proto = "https";
  EXPECT_EQ(RewriteHead(ParseHead("GET / HTTP/1.1\r\nHost: a.example:8443\r\n\r\n"), o),
            "GET / HTTP/1.1\r\nHost: a.example:8443\r\nX-Forwarded-Proto: https\r\n"
            "Forwarded: for=\"[2001:db8::1]\";host=\"a.example:8443\";proto=https\r\n\r\n");
  o.visitor_ip = "192.0.2.9";
  o.x_forwarded_proto = "";
  EXPECT_EQ(
      RewriteHead(ParseHead("GET / HTTP/1.1\r\nForwarded: for=10.1.1.1\r\nHost: a\r\n\r\n"), o),
      "GET / HTTP/1.1\r\nForwarded: for=10.1.1.1, for=192.0.2.9;host=\"a\"\r\nHost: a\r\n\r\n");
}

TEST(ForwardingTest, HostileOptionValuesCannotInjectFields) {
  ForwardingOptions o = Options("1.2.3.4\r\nX-Admin: yes");
  o.x_forwarded_proto = "http\r\nX-Admin: yes";
  std::string out = RewriteHead(ParseHead("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), o);
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: unknown\r\n\r\n");
}

TEST(ForwardingTest, BareLfHeadsGetCrlfFieldsAndStillParse) {
  const std::string raw = "GET / HTTP/1.1\nHost: a.example\n\n";
  ForwardingOptions o = Options("192.0.2.1");
  o.x_forwarded_proto = "http";
  std::string out = RewriteHead(ParseHead(raw), o);
  EXPECT_EQ(out,
            "GET / HTTP/1.1\nHost: a.example\nX-Forwarded-For: 192.0.2.1\r\n"
            "X-Forwarded-Proto: http\r\n\n");
  RequestHead again = ParseHead(out);
  EXPECT_EQ(again.host, "a.example");
  EXPECT_EQ(again.Find("X-Forwarded-Proto")->value, "http");
  EXPECT_EQ(again.raw, out);
}

TEST(ForwardingTest, AbsoluteFormAuthorityIsForwardedHost) {
  ForwardingOptions o = Options("192.0.2.1");
  o.x_forwarded_for = false;
  o.x_forwarded_host = true;
  std::string out =
      RewriteHead(ParseHead("GET http://b.example:81/ HTTP/1.1\r\nHost: a.example\r\n\r\n"), o);
  EXPECT_EQ(out,
            "GET http://b.example:81/ HTTP/1.1\r\nHost: a.example\r\n"
            "X-Forwarded-Host: b.example:81\r\n\r\n");
}

}  // namespace
}  // namespace reitunnel::http
