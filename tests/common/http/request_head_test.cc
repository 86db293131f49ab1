#include "common/http/request_head.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/common/http/test_util.h"

namespace reitunnel::http {
namespace {

using State = RequestHeadReader::State;
using testing::ErrorStatus;
using testing::ParseHead;

constexpr std::string_view kSimple =
    "GET /path?q=1 HTTP/1.1\r\n"
    "Host: App.Example.COM:8080\r\n"
    "User-Agent: test/1.0\r\n"
    "x-lower: Value With  Spaces \r\n"
    "\r\n";

TEST(RequestHeadTest, ExtractsRequestLineHeadersAndHost) {
  RequestHead head = ParseHead(kSimple);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/path?q=1");
  EXPECT_EQ(head.version_major, 1);
  EXPECT_EQ(head.version_minor, 1);
  EXPECT_EQ(head.raw, kSimple);
  ASSERT_EQ(head.headers.size(), 3u);
  EXPECT_EQ(head.headers[0].name, "Host");
  EXPECT_EQ(head.headers[1].name, "User-Agent");
  EXPECT_EQ(head.headers[2].name, "x-lower");
  EXPECT_EQ(head.headers[2].value, "Value With  Spaces");
  EXPECT_EQ(head.host, "app.example.com");
  EXPECT_EQ(head.authority, "App.Example.COM:8080");
  EXPECT_FALSE(head.has_body());
  EXPECT_EQ(head.fields_end, kSimple.size() - 2);
  for (const HeaderField& f : head.headers) {
    EXPECT_EQ(head.raw.substr(f.value_begin, f.value_end - f.value_begin), f.value);
    EXPECT_EQ(head.raw.substr(f.line_begin, f.name.size()), f.name);
    EXPECT_EQ(head.raw.substr(f.line_end - 2, 2), "\r\n");
  }
  EXPECT_EQ(head.Find("user-agent")->value, "test/1.0");
  EXPECT_EQ(head.Find("Missing"), nullptr);
}

TEST(RequestHeadTest, ConsumedStopsAtTheEndOfTheHead) {
  std::string bytes =
      "POST /upload HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\nhelloGET";
  RequestHeadReader reader;
  RequestHeadReader::Result r = reader.Feed(bytes);
  ASSERT_EQ(r.state, State::kDone);
  EXPECT_EQ(bytes.substr(r.consumed), "helloGET");
  EXPECT_EQ(reader.head().raw, bytes.substr(0, r.consumed));
  EXPECT_TRUE(reader.head().has_body());
  EXPECT_EQ(reader.head().content_length, 5u);
  EXPECT_FALSE(reader.head().chunked);
}

// Every split point, and one byte at a time, gives the same head.
TEST(RequestHeadTest, IndependentOfChunking) {
  std::string bytes = std::string(kSimple) + "BODY";
  RequestHead whole = ParseHead(bytes);
  for (size_t split = 0; split <= bytes.size(); ++split) {
    RequestHeadReader reader;
    RequestHeadReader::Result a = reader.Feed(std::string_view(bytes).substr(0, split));
    size_t consumed = a.consumed;
    if (a.state == State::kNeedMore) {
      EXPECT_EQ(a.consumed, split);
      RequestHeadReader::Result b = reader.Feed(std::string_view(bytes).substr(split));
      ASSERT_EQ(b.state, State::kDone) << split;
      consumed += b.consumed;
    }
    ASSERT_EQ(reader.state(), State::kDone) << split;
    EXPECT_EQ(consumed, kSimple.size()) << split;
    EXPECT_EQ(reader.head().raw, whole.raw);
    EXPECT_EQ(reader.head().host, whole.host);
    EXPECT_EQ(reader.head().target, whole.target);
    EXPECT_EQ(reader.head().headers.size(), whole.headers.size());
  }
  RequestHeadReader reader;
  size_t fed = 0;
  for (char c : bytes) {
    RequestHeadReader::Result r = reader.Feed(std::string_view(&c, 1));
    ++fed;
    if (r.state == State::kDone) break;
    ASSERT_EQ(r.state, State::kNeedMore);
  }
  EXPECT_EQ(fed, kSimple.size());
  EXPECT_EQ(reader.head().raw, whole.raw);
}

TEST(RequestHeadTest, StateIsStickyAfterDoneAndError) {
  RequestHeadReader done;
  ASSERT_EQ(done.Feed(kSimple).state, State::kDone);
  RequestHeadReader::Result again = done.Feed("more");
  EXPECT_EQ(again.state, State::kDone);
  EXPECT_EQ(again.consumed, 0u);

  RequestHeadReader bad;
  ASSERT_EQ(bad.Feed("\x16\x03\x01\x02\x00").state, State::kError);
  EXPECT_EQ(bad.error_status(), 400);
  EXPECT_EQ(bad.Feed(kSimple).state, State::kError);
}

TEST(RequestHeadTest, HostForms) {
  EXPECT_EQ(ParseHead("GET / HTTP/1.1\r\nHost: [2001:DB8::1]:8443\r\n\r\n").host, "2001:db8::1");
  EXPECT_EQ(ParseHead("GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n").host, "::1");
  EXPECT_EQ(ParseHead("GET / HTTP/1.1\r\nHost: example.com.\r\n\r\n").host, "example.com");
  EXPECT_EQ(ParseHead("GET / HTTP/1.1\r\nHost:   spaced.example   \r\n\r\n").host,
            "spaced.example");
  EXPECT_EQ(ParseHead("GET / HTTP/1.1\r\nHost: 10.0.0.1:80\r\n\r\n").host, "10.0.0.1");
  EXPECT_EQ(ParseHead("GET / HTTP/1.1\r\nhOsT: lower.example\r\n\r\n").host, "lower.example");
  // An empty Host is legal (RFC 9110 section 7.2) and routes nowhere.
  EXPECT_EQ(ParseHead("GET / HTTP/1.1\r\nHost:\r\n\r\n").host, "");
  for (const char* bad : {"a.example:port", "a.example:123456", "[::1", "[zz::1]", "a b", "a@b",
                          "a%2eb", ":80", "[::1]x", "a.example:80:81", "user@a.example"}) {
    EXPECT_EQ(ErrorStatus(std::string("GET / HTTP/1.1\r\nHost: ") + bad + "\r\n\r\n"), 400) << bad;
  }
}

TEST(RequestHeadTest, AbsoluteFormAuthorityWinsOverHost) {
  RequestHead head =
      ParseHead("GET http://Target.Example:81/x?y HTTP/1.1\r\nHost: other.example\r\n\r\n");
  EXPECT_EQ(head.host, "target.example");
  EXPECT_EQ(head.authority, "Target.Example:81");
  EXPECT_EQ(head.target, "http://Target.Example:81/x?y");

  EXPECT_EQ(ParseHead("GET https://[::1]:8443/ HTTP/1.1\r\nHost: x\r\n\r\n").host, "::1");
  EXPECT_EQ(ErrorStatus("GET ftp://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET a.example:80 HTTP/1.1\r\nHost: a.example\r\n\r\n"), 400);
}

TEST(RequestHeadTest, AsteriskFormUsesHost) {
  EXPECT_EQ(ParseHead("OPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n").host, "a.example");
}

TEST(RequestHeadTest, HostRequirements) {
  RequestHead old = ParseHead("GET / HTTP/1.0\r\nAccept: */*\r\n\r\n");
  EXPECT_EQ(old.host, "");
  EXPECT_EQ(old.version_minor, 0);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n"), 400);
  // Identical duplicates too (RFC 9112 section 3.2; nginx does the same).
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nHost: a.example\r\nHost: a.example\r\n\r\n"), 400);
}

TEST(RequestHeadTest, BodyFraming) {
  RequestHead chunked =
      ParseHead("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n");
  EXPECT_TRUE(chunked.chunked);
  EXPECT_TRUE(chunked.has_body());
  RequestHead zero = ParseHead("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(zero.content_length, 0u);
  EXPECT_FALSE(zero.has_body());

  // Smuggling hygiene (RFC 9112 section 6).
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n"),
            400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                        "Content-Length: 5\r\n\r\n"),
            400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                        "Transfer-Encoding: gzip\r\n\r\n"),
            400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n"),
            400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                        "Content-Length: 6\r\n\r\n"),
            400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
}

TEST(RequestHeadTest, RejectsObsFoldAndMalformedFields) {
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nX: \x01\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\n: a\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("G@T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTX/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nX: a\x7f\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nTransfer-Encoding : chunked\r\nHost: a\r\n\r\n"), 400);
  // obs-text in values is legal.
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\nHost: a\r\n\r\n"), 0);
}

TEST(RequestHeadTest, VersionAndMethodRules) {
  EXPECT_EQ(ErrorStatus("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
  EXPECT_EQ(ErrorStatus("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), 505);
  EXPECT_EQ(ErrorStatus("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"), 405);
  // The HTTP/2 connection preface is not HTTP/1.
  EXPECT_EQ(ErrorStatus("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 400);
  EXPECT_EQ(ParseHead("GET / HTTP/1.2\r\nHost: a\r\n\r\n").version_minor, 2);
}

TEST(RequestHeadTest, ToleratesLeadingEmptyLinesAndBareLf) {
  std::string bytes = "\r\n\nGET / HTTP/1.1\nHost: a.example\nX: y\n\n";
  RequestHead head = ParseHead(bytes);
  EXPECT_EQ(head.raw, bytes);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.host, "a.example");
  ASSERT_EQ(head.headers.size(), 2u);
  EXPECT_EQ(head.headers[1].value, "y");
  EXPECT_EQ(head.fields_end, bytes.size() - 1);
}

TEST(RequestHeadTest, UpgradeRequestsEndAtTheHead) {
  std::string head_bytes =
      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  RequestHeadReader reader;
  RequestHeadReader::Result r = reader.Feed(head_bytes + "\x81\x05hello");
  ASSERT_EQ(r.state, State::kDone);
  EXPECT_EQ(r.consumed, head_bytes.size());
}

TEST(RequestHeadTest, RequestLineBound) {
  HeadLimits limits;
  limits.max_request_line_bytes = 64;
  std::string ok = "GET /" + std::string(64 - 16, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT_EQ(ok.find('\n') + 1, 64u);
  EXPECT_EQ(ParseHead(ok, limits).host, "a");
  std::string too_long = "GET /" + std::string(64 - 16 + 1, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_EQ(ErrorStatus(too_long, limits), 414);
  // Detected while the line is still arriving, not only at its end.
  RequestHeadReader reader(limits);
  EXPECT_EQ(reader.Feed("GET /" + std::string(100, 'a')).state, State::kError);
  EXPECT_EQ(reader.error_status(), 414);
}

TEST(RequestHeadTest, HeaderLineBound) {
  HeadLimits limits;
  limits.max_header_line_bytes = 32;
  std::string ok = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(32 - 5, 'v') + "\r\n\r\n";
  EXPECT_EQ(ParseHead(ok, limits).headers.size(), 2u);
  std::string bad = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(32 - 4, 'v') + "\r\n\r\n";
  EXPECT_EQ(ErrorStatus(bad, limits), 431);
}

TEST(RequestHeadTest, HeaderCountBound) {
  HeadLimits limits;
  limits.max_header_count = 3;
  EXPECT_EQ(ParseHead("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits).headers.size(),
            3u);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits), 431);
}

TEST(RequestHeadTest, HeadSizeBoundAndBoundedBuffering) {
  HeadLimits limits;
  limits.max_head_bytes = 256;
  const std::string prefix = "GET / HTTP/1.1\r\nHost: a\r\n";
  // One padding field sized so that the whole head is exactly 256 bytes.
  const size_t pad = 256 - prefix.size() - std::string_view("Y: \r\n\r\n").size();
  std::string full = prefix + "Y: " + std::string(pad, 'p') + "\r\n\r\n";
  ASSERT_EQ(full.size(), 256u);
  EXPECT_EQ(ParseHead(full, limits).raw.size(), 256u);
  std::string over = prefix + "Y: " + std::string(pad + 1, 'p') + "\r\n\r\n";
  EXPECT_EQ(ErrorStatus(over, limits), 431);

  // A client that never ends its head: the reader fails once the bound is
  // reached, however the bytes are chunked.
  RequestHeadReader reader(limits);
  reader.Feed("GET / HTTP/1.1\r\nHost: a\r\n");
  size_t fed = 0;
  while (reader.state() == State::kNeedMore && fed < 10000) {
    reader.Feed("X-Filler: 0123456789\r\n");
    fed += 22;
  }
  EXPECT_EQ(reader.state(), State::kError);
  EXPECT_EQ(reader.error_status(), 431);
  EXPECT_LE(fed, 256u);
}

TEST(RequestHeadTest, ErrorReasonsNeverQuoteInput) {
  const std::string secret = "SECRETVALUE";
  for (const std::string& bytes :
       {"GET / HTTP/1.1\r\nHost: " + secret + "@x\r\n\r\n", "GET /" + secret + " HTTP/9.9\r\n\r\n",
        secret + " / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nX-" + secret + " : 1\r\n\r\n"}) {
    RequestHeadReader reader;
    reader.Feed(bytes);
    ASSERT_EQ(reader.state(), State::kError) << bytes;
    EXPECT_EQ(std::string(reader.error_reason()).find(secret), std::string::npos);
    EXPECT_FALSE(reader.error_reason().empty());
  }
}

}  // namespace
}  // namespace reitunnel::http
