#include "common/transport/ws/handshake.h"

#include <set>

#include "common/transport/http1/head.h"
#include "gtest/gtest.h"

namespace reitunnel::transport::ws {
namespace {

constexpr const char* kRfcKey = "dGhlIHNhbXBsZSBub25jZQ==";

std::string ValidRequest(const std::string& path = "/reitunnel", const std::string& more = "") {
  return "GET " + path +
         " HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Key: " +
         std::string(kRfcKey) + "\r\nSec-WebSocket-Version: 13\r\n" + more + "\r\n";
}

TEST(HandshakeTest, Rfc6455AcceptKey) {
  EXPECT_EQ(ComputeAcceptKey(kRfcKey), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(HandshakeTest, ClientKeysAreValidAndFresh) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const std::string k = MakeClientKey();
    EXPECT_TRUE(IsValidClientKey(k)) << k;
    seen.insert(k);
  }
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_FALSE(IsValidClientKey("dGhlIHNhbXBsZSBub25jZQ"));
  EXPECT_FALSE(
      IsValidClientKey("dGhlIHNhbXBsZSBub25jZQ=="
                       "AAAA"));
  EXPECT_FALSE(IsValidClientKey("dGhlIHNhbXBsZSBub25j!Q=="));
}

TEST(HandshakeTest, ClientRequestRoundTripsThroughServerCheck) {
  ClientRequestSpec spec{"[::1]:7000",
                         "/reitunnel?agent=a1",
                         "reitunnel.v1",
                         {{"X-Forwarded-For", "203.0.113.7"}, {"User-Agent", "reitunnel/1"}}};
  absl::StatusOr<std::string> req = BuildClientRequest(spec, kRfcKey);
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->rfind("GET /reitunnel?agent=a1 HTTP/1.1\r\nHost: [::1]:7000\r\n", 0), 0u);
  UpgradeCheck c = CheckClientRequest(*req, "/reitunnel");
  ASSERT_EQ(c.status, 101) << c.error;
  EXPECT_EQ(c.request.path, "/reitunnel");
  EXPECT_EQ(c.request.host, "[::1]:7000");
  EXPECT_EQ(c.request.key, kRfcKey);
  ASSERT_EQ(c.request.offered_subprotocols.size(), 1u);
  EXPECT_EQ(c.request.offered_subprotocols[0], "reitunnel.v1");
  EXPECT_EQ(c.request.forwarded_for, "203.0.113.7");
}

TEST(HandshakeTest, ClientRequestRefusesInjectionAndOverrides) {
  ClientRequestSpec spec{"h", "/p", "", {}};
  spec.extra_headers = {{"X-Token", "abc\r\nInjected: 1"}};
  absl::StatusOr<std::string> r = BuildClientRequest(spec, kRfcKey);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(std::string(r.status().message()).find("abc"), std::string::npos);
  spec.extra_headers = {{"Bad Name", "v"}};
  EXPECT_FALSE(BuildClientRequest(spec, kRfcKey).ok());
  spec.extra_headers = {{"host", "evil"}};
  EXPECT_FALSE(BuildClientRequest(spec, kRfcKey).ok());
  spec.extra_headers = {};
  spec.path = "no-slash";
  EXPECT_FALSE(BuildClientRequest(spec, kRfcKey).ok());
  spec.path = "/a b";
  EXPECT_FALSE(BuildClientRequest(spec, kRfcKey).ok());
  spec.path = "/p";
  spec.subprotocol = "bad proto";
  EXPECT_FALSE(BuildClientRequest(spec, kRfcKey).ok());
  spec.subprotocol = "";
  spec.host_header = "h\r\n";
  EXPECT_FALSE(BuildClientRequest(spec, kRfcKey).ok());
}

struct RequestCase {
  const char* name;
  std::string head;
  int status;
};

TEST(HandshakeTest, ServerRequestChecks) {
  const std::string base = ValidRequest();
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = base;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  const RequestCase cases[] = {
      {"valid", base, 101},
      {"query ignored", ValidRequest("/reitunnel?token=x"), 101},
      {"absolute form", replace("GET /reitunnel", "GET http://server.example.com/reitunnel"), 101},
      {"token lists, any case",
       replace("Upgrade: websocket\r\nConnection: Upgrade",
               "Upgrade: WebSocket\r\nConnection: keep-alive, UPGRADE"),
       101},
      {"connection token in a second field",
       replace("Connection: Upgrade", "Connection: keep-alive\r\nConnection: upgrade"), 101},
      {"wrong path", ValidRequest("/other"), 404},
      {"path prefix is not a match", ValidRequest("/reitunnel/x"), 404},
      {"root path", ValidRequest("/"), 404},
      {"POST", replace("GET", "POST"), 405},
      {"HTTP/1.0", replace("HTTP/1.1", "HTTP/1.0"), 505},
      {"no Host", replace("Host: server.example.com\r\n", ""), 400},
      {"two Hosts", replace("Host: server.example.com\r\n", "Host: a\r\nHost: b\r\n"), 400},
      {"no Upgrade", replace("Upgrade: websocket\r\n", ""), 400},
      {"Upgrade: h2c", replace("Upgrade: websocket", "Upgrade: h2c"), 400},
      {"no Connection upgrade", replace("Connection: Upgrade", "Connection: keep-alive"), 400},
      {"version 8", replace("Version: 13", "Version: 8"), 426},
      {"no version", replace("Sec-WebSocket-Version: 13\r\n", ""), 426},
      {"no key", replace(std::string("Sec-WebSocket-Key: ") + kRfcKey + "\r\n", ""), 400},
      {"short key", replace(kRfcKey, "dGhlIHNhbXBsZQ=="), 400},
      {"two keys",
       replace("Sec-WebSocket-Version",
               std::string("Sec-WebSocket-Key: ") + kRfcKey + "\r\nSec-WebSocket-Version"),
       400},
      {"garbage", "\x16\x03\x01\x00\x05hello\r\n\r\n", 400},
  };
  for (const RequestCase& c : cases) {
    SCOPED_TRACE(c.name);
    UpgradeCheck check = CheckClientRequest(c.head, "/reitunnel");
    EXPECT_EQ(check.status, c.status) << check.error;
    if (c.status != 101) {
      EXPECT_FALSE(check.error.empty());
    }
  }
}

TEST(HandshakeTest, RefusalMessagesNeverQuoteHeaderValuesOrQuery) {
  UpgradeCheck c = CheckClientRequest(ValidRequest("/nope?token=hunter2"), "/reitunnel");
  EXPECT_EQ(c.status, 404);
  EXPECT_NE(c.error.find("/nope"), std::string::npos);
  EXPECT_EQ(c.error.find("hunter2"), std::string::npos);
  std::string bad_key = ValidRequest();
  bad_key.replace(bad_key.find(kRfcKey), 24, "hunter2hunter2hunter2!==");
  c = CheckClientRequest(bad_key, "/reitunnel");
  EXPECT_EQ(c.status, 400);
  EXPECT_EQ(c.error.find("hunter2"), std::string::npos);
}

TEST(HandshakeTest, ForwardedForJoinedAndSanitized) {
  UpgradeCheck c = CheckClientRequest(ValidRequest("/reitunnel",
                                                   "X-Forwarded-For: 198.51.100.1, 10.0.0.1\r\n"
                                                   "X-Forwarded-For: 10.0.0.2\xff\r\n"),
                                      "/reitunnel");
  ASSERT_EQ(c.status, 101) << c.error;
  EXPECT_EQ(c.request.forwarded_for.rfind("198.51.100.1, 10.0.0.1, 10.0.0.2", 0), 0u);
  EXPECT_EQ(c.request.forwarded_for.find("\xff"), std::string::npos);
  EXPECT_NE(c.request.forwarded_for.find("\\xff"), std::string::npos);
}

TEST(HandshakeTest, ServerAnswers) {
  const std::string ok = BuildAcceptResponse(kRfcKey, "reitunnel.v1");
  std::string selected;
  ASSERT_TRUE(CheckServerResponse(ok, kRfcKey, "reitunnel.v1", &selected).ok());
  EXPECT_EQ(selected, "reitunnel.v1");
  EXPECT_NE(ok.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos);

  absl::StatusOr<http1::ResponseHead> r = http1::ParseResponseHead(
      BuildErrorResponse(426).substr(0, BuildErrorResponse(426).find("\r\n\r\n") + 4));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 426);
  EXPECT_EQ(**http1::SingleHeader(r->headers, "sec-websocket-version"), "13");
  for (int s : {400, 404, 405, 431, 505}) {
    const std::string e = BuildErrorResponse(s);
    EXPECT_EQ(e.rfind("HTTP/1.1 " + std::to_string(s) + " ", 0), 0u);
    EXPECT_NE(e.find("Connection: close"), std::string::npos);
  }
  EXPECT_NE(BuildErrorResponse(405).find("Allow: GET"), std::string::npos);
}

TEST(HandshakeTest, ClientChecksOfTheAnswer) {
  const std::string accept = ComputeAcceptKey(kRfcKey);
  auto answer = [&](const std::string& status, const std::string& headers) {
    return "HTTP/1.1 " + status + "\r\n" + headers + "\r\n";
  };
  const std::string good =
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n";
  std::string sel = "x";
  EXPECT_TRUE(
      CheckServerResponse(answer("101 Switching Protocols", good), kRfcKey, "reitunnel.v1", &sel)
          .ok());
  EXPECT_EQ(sel, "");  // the server may choose none

  absl::Status st = CheckServerResponse(
      answer("404 Not Found", "Set-Cookie: session=hunter2\r\nContent-Length: 0\r\n"), kRfcKey, "",
      &sel);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(st));
  EXPECT_NE(std::string(st.message()).find("HTTP/1.1 404 Not Found"), std::string::npos);
  EXPECT_EQ(std::string(st.message()).find("hunter2"), std::string::npos);

  const std::pair<const char*, std::string> bad[] = {
      {"wrong accept", answer("101 X",
                              "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n")},
      {"no accept", answer("101 X", "Upgrade: websocket\r\nConnection: Upgrade\r\n")},
      {"no upgrade",
       answer("101 X", "Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n")},
      {"no connection",
       answer("101 X", "Upgrade: websocket\r\nSec-WebSocket-Accept: " + accept + "\r\n")},
      {"unrequested subprotocol", answer("101 X", good + "Sec-WebSocket-Protocol: chat\r\n")},
      {"unrequested extension",
       answer("101 X", good + "Sec-WebSocket-Extensions: permessage-deflate\r\n")},
      {"malformed", "HTTP/1.1 1O1 X\r\n\r\n"},
  };
  for (const auto& [name, head] : bad) {
    SCOPED_TRACE(name);
    absl::Status s = CheckServerResponse(head, kRfcKey, "reitunnel.v1", &sel);
    EXPECT_FALSE(s.ok());
    EXPECT_FALSE(absl::IsPermissionDenied(s));
  }
}

}  // namespace
}  // namespace reitunnel::transport::ws
