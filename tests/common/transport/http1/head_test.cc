#include "common/transport/http1/head.h"

#include "common/transport/http1/text.h"
#include "gtest/gtest.h"

namespace reitunnel::transport::http1 {
namespace {

TEST(FindHeadEndTest, CrlfBareLfAndIncomplete) {
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\r\nHost: x\r\n\r\nrest"), 27u);
  EXPECT_EQ(FindHeadEnd("HTTP/1.1 200 OK\n\nbody"), 17u);
  EXPECT_FALSE(FindHeadEnd("GET / HTTP/1.1\r\nHost: x\r\n").has_value());
  EXPECT_FALSE(FindHeadEnd("").has_value());
  EXPECT_FALSE(FindHeadEnd("\r\n\r").has_value());
}

TEST(ParseRequestHeadTest, FieldsLowercasedValuesTrimmed) {
  absl::StatusOr<RequestHead> r = ParseRequestHead(
      "GET /reitunnel?x=1 HTTP/1.1\r\nHost: example.com\r\nUPGRADE:   websocket  \r\n"
      "Connection: keep-alive, Upgrade\r\nX-Empty:\r\n\r\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->target, "/reitunnel?x=1");
  EXPECT_EQ(r->version_major, 1);
  EXPECT_EQ(r->version_minor, 1);
  ASSERT_EQ(r->headers.size(), 4u);
  EXPECT_EQ(r->headers[1].name, "upgrade");
  EXPECT_EQ(r->headers[1].value, "websocket");
  EXPECT_EQ(r->headers[3].value, "");
  EXPECT_TRUE(HeaderHasToken(r->headers, "connection", "upgrade"));
  EXPECT_TRUE(HeaderHasToken(r->headers, "connection", "KEEP-ALIVE"));
  EXPECT_FALSE(HeaderHasToken(r->headers, "connection", "close"));
  EXPECT_FALSE(HeaderHasToken(r->headers, "host", "upgrade"));
}

TEST(ParseRequestHeadTest, RejectsGarbageIncompleteAndTrailingBytes) {
  EXPECT_FALSE(ParseRequestHead("\x16\x03\x01\x02\x00\r\n\r\n").ok());
  EXPECT_FALSE(ParseRequestHead("GET / HTTP/1.1\r\nHost: x\r\n").ok());
  EXPECT_FALSE(ParseRequestHead("GET / HTTP/1.1\r\nHost: x\r\n\r\nextra").ok());
  EXPECT_FALSE(ParseRequestHead("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n").ok());
  EXPECT_FALSE(ParseRequestHead("GET / HTTP/1.1\r\n: novalue\r\n\r\n").ok());
}

TEST(ParseRequestHeadTest, TooManyHeaderFields) {
  std::string head = "GET / HTTP/1.1\r\n";
  for (size_t i = 0; i <= kMaxHeaderFields; ++i) head += "X-" + std::to_string(i) + ": v\r\n";
  head += "\r\n";
  absl::StatusOr<RequestHead> r = ParseRequestHead(head);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("more than"), std::string::npos);
}

TEST(ParseResponseHeadTest, StatusLineIsPrintableAndHeadersAreNotInIt) {
  absl::StatusOr<ResponseHead> r = ParseResponseHead(
      "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n"
      "Content-Length: 10\r\n\r\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 407);
  EXPECT_EQ(r->status_line, "HTTP/1.1 407 Proxy Authentication Required");
  EXPECT_EQ(r->headers.size(), 2u);
  absl::StatusOr<ResponseHead> weird = ParseResponseHead("HTTP/1.1 200 \x01\xff\r\n\r\n");
  if (weird.ok()) {
    EXPECT_EQ(weird->status_line.find('\x01'), std::string::npos);
  }
}

TEST(SingleHeaderTest, AbsentOneAndRepeated) {
  std::vector<Header> h = {{"a", "1"}, {"b", "2"}, {"b", "3"}};
  EXPECT_FALSE(SingleHeader(h, "c")->has_value());
  EXPECT_EQ(**SingleHeader(h, "a"), "1");
  EXPECT_FALSE(SingleHeader(h, "b").ok());
  EXPECT_EQ(HeaderValues(h, "b").size(), 2u);
}

TEST(TextTest, SanitizeTokenAndValues) {
  EXPECT_EQ(SanitizeForLog("ok \\ \r\n\x7f"), "ok \\x5c \\x0d\\x0a\\x7f");
  EXPECT_EQ(SanitizeForLog("abcdef", 3), "abc...");
  EXPECT_TRUE(IsToken("Sec-WebSocket-Key"));
  EXPECT_FALSE(IsToken("a b"));
  EXPECT_FALSE(IsToken(""));
  EXPECT_FALSE(IsToken("a:b"));
  EXPECT_TRUE(IsSafeFieldValue("Basic abc==\t x"));
  EXPECT_FALSE(IsSafeFieldValue("a\r\nInjected: 1"));
  EXPECT_FALSE(IsSafeFieldValue("\xc3\xa9"));
  EXPECT_TRUE(EqualsIgnoreCase("WebSocket", "websocket"));
  EXPECT_FALSE(EqualsIgnoreCase("websocket", "websockets"));
  EXPECT_EQ(TrimBlanks(" \t a b \t"), "a b");
  EXPECT_EQ(SplitList(" a, ,b ,, c").size(), 3u);
}

}  // namespace
}  // namespace reitunnel::transport::http1
