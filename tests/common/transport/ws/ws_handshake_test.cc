// Opening-handshake failures over real sockets: what each side throws and
// what goes over the wire.

#include <optional>
#include <string>

#include "asio/experimental/awaitable_operators.hpp"
#include "common/transport/errors/errors.h"
#include "common/transport/http1/head.h"
#include "common/transport/http1/timeout.h"
#include "gtest/gtest.h"
#include "tests/common/transport/ws/ws_test_util.h"

namespace reitunnel::transport {
namespace {

using namespace asio::experimental::awaitable_operators;
using testing::ConnPair;
using testing::ReadAll;
using testing::RunOn;
using testing::TcpPair;

template <typename T>
asio::awaitable<std::optional<std::system_error>> Failure(asio::awaitable<T> op) {
  try {
    co_await std::move(op);
  } catch (const std::system_error& e) {
    co_return e;
  }
  co_return std::nullopt;
}

TEST(WsHandshakeTest, WrongPathIs404OnBothSides) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    WsClientOptions co = testing::ClientOptions();
    co.path = "/elsewhere";
    auto [client_err, server_err] = co_await (
        Failure(WsConnect(p.client, co)) && Failure(WsAccept(p.server, testing::ServerOptions())));
    CO_ASSERT_TRUE(client_err.has_value());
    EXPECT_EQ(client_err->code(), make_error_code(TransportError::kHandshakeRejected));
    EXPECT_NE(std::string(client_err->what()).find("HTTP/1.1 404 Not Found"), std::string::npos)
        << client_err->what();
    CO_ASSERT_TRUE(server_err.has_value());
    EXPECT_EQ(server_err->code(), make_error_code(TransportError::kHandshakeRejected));
    EXPECT_NE(std::string(server_err->what()).find("404"), std::string::npos);
    EXPECT_NE(std::string(server_err->what()).find("/elsewhere"), std::string::npos);
  });
}

struct RawCase {
  const char* name;
  std::string request;
  const char* status_line_prefix;
  const char* answer_must_contain;
};

TEST(WsHandshakeTest, RefusedRequestsGetTheirHttpAnswer) {
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  auto req = [&](const std::string& first, const std::string& headers) {
    return first + "\r\nHost: 127.0.0.1\r\n" + headers + "\r\n";
  };
  const std::string up = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
  const RawCase cases[] = {
      {"missing key", req("GET /reitunnel HTTP/1.1", up + "Sec-WebSocket-Version: 13\r\n"),
       "HTTP/1.1 400 ", ""},
      {"bad version",
       req("GET /reitunnel HTTP/1.1",
           up + "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 7\r\n"),
       "HTTP/1.1 426 ", "Sec-WebSocket-Version: 13"},
      {"not GET",
       req("PUT /reitunnel HTTP/1.1",
           up + "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"),
       "HTTP/1.1 405 ", "Allow: GET"},
      {"plain GET", req("GET /reitunnel HTTP/1.1", ""), "HTTP/1.1 400 ", ""},
      {"head too large",
       req("GET /reitunnel HTTP/1.1", "X-Pad: " + std::string(9000, 'p') + "\r\n"), "HTTP/1.1 431 ",
       ""},
      {"not HTTP", std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 15),
       "HTTP/1.1 400 ", ""},
  };
  for (const RawCase& c : cases) {
    SCOPED_TRACE(c.name);
    asio::io_context io;
    RunOn(io, [&]() -> asio::awaitable<void> {
      ConnPair p = co_await TcpPair();
      auto client = [&]() -> asio::awaitable<std::string> {
        co_await p.client->WriteAll(asio::buffer(c.request));
        co_return co_await ReadAll(*p.client);
      };
      auto [err, answer] = co_await (Failure(WsAccept(p.server, testing::ServerOptions())) &&
                                     http1::WithTimeout(client(), std::chrono::seconds(5), "read"));
      CO_ASSERT_TRUE(err.has_value());
      EXPECT_TRUE(err->code() == make_error_code(TransportError::kHandshakeRejected) ||
                  err->code() == make_error_code(TransportError::kTooLarge))
          << err->what();
      EXPECT_EQ(answer.rfind(c.status_line_prefix, 0), 0u) << answer;
      EXPECT_NE(answer.find(c.answer_must_contain), std::string::npos) << answer;
    });
  }
}

TEST(WsHandshakeTest, SlowClientTimesOut) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    const std::string partial = "GET /reitunnel HTTP/1.1\r\nHost: x\r\n";
    co_await p.client->WriteAll(asio::buffer(partial));
    WsServerOptions so = testing::ServerOptions();
    so.timeout = std::chrono::milliseconds(150);
    auto err = co_await Failure(WsAccept(p.server, so));
    CO_ASSERT_TRUE(err.has_value());
    EXPECT_EQ(err->code(), asio::error::timed_out);
  });
}

TEST(WsHandshakeTest, ClientSeesNon101StatusLineButNoHeaders) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    auto server = [&]() -> asio::awaitable<void> {
      co_await http1::ReadHead(*p.server, 8192);
      const std::string answer =
          "HTTP/1.1 403 Forbidden\r\nWWW-Authenticate: Bearer token=hunter2\r\n"
          "Content-Length: 0\r\n\r\n";
      co_await p.server->WriteAll(asio::buffer(answer));
    };
    auto err = co_await (server() && Failure(WsConnect(p.client, testing::ClientOptions())));
    CO_ASSERT_TRUE(err.has_value());
    EXPECT_EQ(err->code(), make_error_code(TransportError::kHandshakeRejected));
    EXPECT_NE(std::string(err->what()).find("HTTP/1.1 403 Forbidden"), std::string::npos);
    EXPECT_EQ(std::string(err->what()).find("hunter2"), std::string::npos);
  });
}

TEST(WsHandshakeTest, ClientRefusesWrongAcceptAndSilentServerTimesOut) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    auto server = [&]() -> asio::awaitable<void> {
      co_await http1::ReadHead(*p.server, 8192);
      const std::string answer = ws::BuildAcceptResponse("AAAAAAAAAAAAAAAAAAAAAA==", "");
      co_await p.server->WriteAll(asio::buffer(answer));
    };
    auto err = co_await (server() && Failure(WsConnect(p.client, testing::ClientOptions())));
    CO_ASSERT_TRUE(err.has_value());
    EXPECT_EQ(err->code(), make_error_code(TransportError::kProtocolError));
    EXPECT_NE(std::string(err->what()).find("Sec-WebSocket-Accept"), std::string::npos);

    ConnPair q = co_await TcpPair();
    WsClientOptions co = testing::ClientOptions();
    co.timeout = std::chrono::milliseconds(150);
    auto silent = co_await Failure(WsConnect(q.client, co));
    CO_ASSERT_TRUE(silent.has_value());
    EXPECT_EQ(silent->code(), asio::error::timed_out);
  });
}

TEST(WsHandshakeTest, ForwardedForAndRequiredSubprotocol) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    WsClientOptions co = testing::ClientOptions();
    co.extra_headers = {{"X-Forwarded-For", "203.0.113.9"}};
    testing::WsPair p = co_await testing::WsPairOverTcp(co);
    EXPECT_EQ(p.server->forwarded_for(), "203.0.113.9");
    EXPECT_EQ(p.client->forwarded_for(), "");

    ConnPair q = co_await TcpPair();
    co = testing::ClientOptions();
    co.subprotocol = "";
    WsServerOptions so = testing::ServerOptions();
    so.require_subprotocol = true;
    auto [cerr, serr] =
        co_await (Failure(WsConnect(q.client, co)) && Failure(WsAccept(q.server, so)));
    CO_ASSERT_TRUE(cerr.has_value());
    EXPECT_NE(std::string(cerr->what()).find("400"), std::string::npos);
    CO_ASSERT_TRUE(serr.has_value());
    EXPECT_NE(std::string(serr->what()).find("subprotocol"), std::string::npos);

    // Not required: a client offering none still connects, with none.
    so.require_subprotocol = false;
    testing::WsPair r = co_await testing::WsPairOverTcp(co, so);
    EXPECT_EQ(r.server->subprotocol(), "");
    EXPECT_EQ(r.client->subprotocol(), "");
  });
}

}  // namespace
}  // namespace reitunnel::transport
