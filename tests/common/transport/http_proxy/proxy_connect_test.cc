#include "common/transport/http_proxy/proxy_connect.h"

#include <openssl/evp.h>

#include <string>

#include "asio/experimental/awaitable_operators.hpp"
#include "common/transport/errors/errors.h"
#include "common/transport/http1/head.h"
#include "common/transport/http1/head_reader.h"
#include "gtest/gtest.h"
#include "tests/common/transport/loopback.h"

namespace reitunnel::transport {
namespace {

using namespace asio::experimental::awaitable_operators;
using testing::ConnPair;
using testing::RunOn;
using testing::TcpPair;

std::string Unbase64(const std::string& s) {
  std::string out(s.size(), '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  while (!s.empty() && s.back() == '=' && !out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

TEST(ProxyConnectTest, RequestFormat) {
  const std::string plain = BuildConnectRequest("server.example", 443, nullptr);
  EXPECT_EQ(plain, "CONNECT server.example:443 HTTP/1.1\r\nHost: server.example:443\r\n\r\n");
  ProxyCredentials creds{"alice", "s3cr:t"};
  const std::string v6 = BuildConnectRequest("2001:db8::1", 7000, &creds);
  absl::StatusOr<http1::RequestHead> head = http1::ParseRequestHead(v6);
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->method, "CONNECT");
  EXPECT_EQ(head->target, "[2001:db8::1]:7000");
  EXPECT_EQ(**http1::SingleHeader(head->headers, "host"), "[2001:db8::1]:7000");
  const std::string auth(**http1::SingleHeader(head->headers, "proxy-authorization"));
  ASSERT_EQ(auth.rfind("Basic ", 0), 0u);
  EXPECT_EQ(Unbase64(auth.substr(6)), "alice:s3cr:t");
}

TEST(ProxyConnectTest, ResponseChecks) {
  EXPECT_TRUE(
      CheckConnectResponse("HTTP/1.1 200 Connection established\r\n\r\n", "t:1", false).ok());
  EXPECT_TRUE(
      CheckConnectResponse("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", "t:1", false).ok());
  EXPECT_TRUE(CheckConnectResponse("HTTP/1.1 204 No Content\r\n\r\n", "t:1", false).ok());

  absl::Status st = CheckConnectResponse(
      "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic "
      "realm=\"corp\"\r\n\r\n",
      "t:1", false);
  EXPECT_TRUE(absl::IsUnauthenticated(st));
  EXPECT_NE(std::string(st.message()).find("proxy authentication required"), std::string::npos);
  EXPECT_NE(std::string(st.message()).find("HTTP/1.1 407 Proxy Authentication Required"),
            std::string::npos);
  EXPECT_EQ(std::string(st.message()).find("realm"), std::string::npos);
  EXPECT_TRUE(absl::IsUnauthenticated(
      CheckConnectResponse("HTTP/1.0 401 Unauthorized\r\n\r\n", "t:1", false)));
  st = CheckConnectResponse("HTTP/1.1 407 Nope\r\n\r\n", "t:1", true);
  EXPECT_NE(std::string(st.message()).find("credentials rejected"), std::string::npos);

  st = CheckConnectResponse("HTTP/1.1 403 Forbidden\r\n\r\n", "srv:7000", false);
  EXPECT_TRUE(absl::IsPermissionDenied(st));
  EXPECT_NE(std::string(st.message()).find("refused CONNECT srv:7000: HTTP/1.1 403 Forbidden"),
            std::string::npos);
  st = CheckConnectResponse("SSH-2.0-OpenSSH\r\n\r\n", "t:1", false);
  EXPECT_TRUE(absl::IsInvalidArgument(st));
}

// The far side of `pair` plays the proxy: checks the request, answers
// `answer` and returns the request head.
asio::awaitable<std::string> FakeProxy(Stream& s, std::string answer) {
  http1::HeadAndRest req = co_await http1::ReadHead(s, 8192);
  co_await s.WriteAll(asio::buffer(answer));
  co_return req.head;
}

TEST(ProxyConnectTest, TunnelBytesAfterTheAnswerAreReturned) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    ProxyCredentials creds{"u", "hunter2"};
    auto [rest, head] =
        co_await (ProxyConnect(*p.client, "10.0.0.9", 7000, &creds) &&
                  FakeProxy(*p.server, "HTTP/1.1 200 Connection established\r\n\r\nSERVER-HELLO"));
    EXPECT_EQ(head.rfind("CONNECT 10.0.0.9:7000 HTTP/1.1\r\n", 0), 0u);
    EXPECT_NE(head.find("Proxy-Authorization: Basic "), std::string::npos);
    // The leftover may be split between the answer's read and later reads.
    std::string got = rest;
    while (got.size() < 12) {
      char buf[64];
      size_t n = co_await p.client->ReadSome(asio::buffer(buf));
      CO_ASSERT_TRUE(n > 0);
      got.append(buf, n);
    }
    EXPECT_EQ(got, "SERVER-HELLO");
    // And the tunnel works both ways.
    const std::string up = "agent-bytes";
    co_await p.client->WriteAll(asio::buffer(up));
    EXPECT_EQ(co_await testing::ReadN(*p.server, up.size()), up);
  });
}

struct Refusal {
  const char* answer;
  TransportError error;
  const char* message_part;
};

TEST(ProxyConnectTest, RefusalsThrowTypedErrorsWithoutCredentials) {
  const Refusal cases[] = {
      {"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", TransportError::kProxyAuthRequired,
       "credentials rejected"},
      {"HTTP/1.1 403 Forbidden\r\nX-Secret: hunter2\r\n\r\n", TransportError::kProxyRefused,
       "HTTP/1.1 403 Forbidden"},
      {"HTTP/1.1 502 Bad Gateway\r\n\r\n", TransportError::kProxyRefused, "502 Bad Gateway"},
      {"garbage\r\n\r\n", TransportError::kProtocolError, "malformed"},
  };
  for (const Refusal& c : cases) {
    SCOPED_TRACE(c.answer);
    asio::io_context io;
    RunOn(io, [&]() -> asio::awaitable<void> {
      ConnPair p = co_await TcpPair();
      ProxyCredentials creds{"u", "hunter2"};
      auto attempt = [&]() -> asio::awaitable<std::optional<std::system_error>> {
        try {
          co_await ProxyConnect(*p.client, "srv", 443, &creds);
        } catch (const std::system_error& e) {
          co_return e;
        }
        co_return std::nullopt;
      };
      auto [err, head] = co_await (attempt() && FakeProxy(*p.server, c.answer));
      CO_ASSERT_TRUE(err.has_value());
      EXPECT_EQ(err->code(), make_error_code(c.error)) << err->what();
      EXPECT_NE(std::string(err->what()).find(c.message_part), std::string::npos) << err->what();
      EXPECT_EQ(std::string(err->what()).find("hunter2"), std::string::npos);
    });
  }
}

TEST(ProxyConnectTest, OversizedAnswerAndSilentProxy) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    auto attempt = [&](Stream& s, ProxyConnectOptions o) -> asio::awaitable<std::error_code> {
      try {
        co_await ProxyConnect(s, "srv", 443, nullptr, o);
      } catch (const std::system_error& e) {
        co_return e.code();
      }
      co_return std::error_code();
    };
    const std::string huge = "HTTP/1.1 200 OK\r\nX: " + std::string(10000, 'x') + "\r\n\r\n";
    auto [code, head] = co_await (attempt(*p.client, {}) && FakeProxy(*p.server, huge));
    EXPECT_EQ(code, make_error_code(TransportError::kTooLarge));

    ConnPair q = co_await TcpPair();
    ProxyConnectOptions quick;
    quick.timeout = std::chrono::milliseconds(150);
    EXPECT_EQ(co_await attempt(*q.client, quick), asio::error::timed_out);
  });
}

}  // namespace
}  // namespace reitunnel::transport
