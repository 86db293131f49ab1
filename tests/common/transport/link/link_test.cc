// DialLink and AcceptLink over loopback: each transport the agent link can
// take (TCP, TLS, ws, wss with mTLS), and how failures surface.

#include "common/transport/link/link_dialer.h"

#include <string>

#include "asio/experimental/awaitable_operators.hpp"
#include "common/net/tls.h"
#include "common/transport/errors/errors.h"
#include "common/transport/http1/head_reader.h"
#include "common/transport/link/link_acceptor.h"
#include "common/transport/tcp/tcp_transport.h"
#include "gtest/gtest.h"
#include "tests/common/transport/loopback.h"
#include "tests/common/transport/tls/test_pki.h"

namespace reitunnel::transport {
namespace {

using namespace asio::experimental::awaitable_operators;
using asio::ip::tcp;
using testing::RunOn;

struct Pki {
  testing::PemDir dir;
  std::string ca, server, client;
  Pki() {
    auto ca_cert = testing::Issue({{"CN", "link-test-ca"}}, "", nullptr);
    auto srv = testing::Issue({{"CN", "server"}}, "IP:127.0.0.1,DNS:localhost", &ca_cert);
    auto cli = testing::Issue({{"CN", "agent-9"}}, "DNS:agent-9.test", &ca_cert, true);
    ca = dir.Write("ca", ca_cert);
    server = dir.Write("server", srv);
    client = dir.Write("client", cli);
  }
};

struct Result {
  std::string client_kind, server_kind;
  int client_splice_fd = -1;
  std::string echoed;
  std::optional<PeerCertificate> cert;
};

// One connection: the agent dials `spec`, the server accepts with `accept`,
// a message goes each way.
asio::awaitable<Result> RoundTrip(LinkDialSpec spec, LinkAcceptSpec accept) {
  auto ex = co_await asio::this_coro::executor;
  tcp::acceptor acceptor(ex, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  spec.server.host = "127.0.0.1";
  spec.server.port = acceptor.local_endpoint().port();
  auto server_side = [&]() -> asio::awaitable<AcceptedLink> {
    tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
    auto conn = AdoptTcp(std::move(s), "client");
    AcceptedLink link = co_await AcceptLink(conn, accept);
    co_await link.stream->WriteAll(asio::buffer(std::string("hello agent")));
    co_return link;
  };
  auto [client, server] = co_await (DialLink(spec) && server_side());
  Result r;
  r.client_kind = client->kind();
  r.server_kind = server.stream->kind();
  r.client_splice_fd = client->splice_fd();
  r.cert = server.peer_certificate;
  std::string got = co_await testing::ReadN(*client, 11);
  co_await client->WriteAll(asio::buffer(std::string("hello server")));
  r.echoed = got + "|" + co_await testing::ReadN(*server.stream, 12);
  client->Close();
  server.stream->Close();
  co_return r;
}

LinkDialSpec Spec(url::LinkScheme scheme) {
  LinkDialSpec s;
  s.server.scheme = scheme;
  s.server.path = scheme == url::LinkScheme::kTcp ? "" : "/reitunnel";
  s.timeout = std::chrono::seconds(10);
  return s;
}

TEST(LinkTest, PlainTcpKeepsTheSpliceFastPath) {
  asio::io_context io;
  Result r;
  RunOn(io, [&]() -> asio::awaitable<void> {
    // Named, not temporaries: GCC 12 destroys temporaries passed by value to
    // a coroutine twice.
    LinkDialSpec spec = Spec(url::LinkScheme::kTcp);
    LinkAcceptSpec accept;
    r = co_await RoundTrip(spec, accept);
  });
  EXPECT_EQ(r.client_kind, "tcp");
  EXPECT_EQ(r.server_kind, "tcp");
  EXPECT_GE(r.client_splice_fd, 0);
  EXPECT_EQ(r.echoed, "hello agent|hello server");
  EXPECT_FALSE(r.cert.has_value());
}

TEST(LinkTest, WebSocket) {
  asio::io_context io;
  Result r;
  LinkAcceptSpec accept;
  accept.websocket = true;
  RunOn(io, [&]() -> asio::awaitable<void> {
    LinkDialSpec spec = Spec(url::LinkScheme::kWs);
    r = co_await RoundTrip(spec, accept);
  });
  EXPECT_EQ(r.client_kind, "ws");
  EXPECT_EQ(r.server_kind, "ws");
  EXPECT_EQ(r.client_splice_fd, -1);
  EXPECT_EQ(r.echoed, "hello agent|hello server");
}

TEST(LinkTest, TlsAndWssWithClientCertificate) {
  Pki pki;
  auto server_ctx =
      net::MakeServerTlsContext({pki.server + ".pem", pki.server + ".key", pki.ca + ".pem"});
  ASSERT_TRUE(server_ctx.ok()) << server_ctx.status();
  auto client_ctx =
      net::MakeClientTlsContext({pki.ca + ".pem", pki.client + ".pem", pki.client + ".key"});
  ASSERT_TRUE(client_ctx.ok()) << client_ctx.status();
  for (bool ws : {false, true}) {
    SCOPED_TRACE(ws ? "wss" : "tls");
    asio::io_context io;
    Result r;
    LinkDialSpec spec = Spec(ws ? url::LinkScheme::kWss : url::LinkScheme::kTcp);
    spec.tls = client_ctx->get();
    LinkAcceptSpec accept;
    accept.tls = server_ctx->get();
    accept.websocket = ws;
    RunOn(io, [&]() -> asio::awaitable<void> { r = co_await RoundTrip(spec, accept); });
    EXPECT_EQ(r.client_kind, ws ? "wss" : "tls");
    EXPECT_EQ(r.server_kind, ws ? "wss" : "tls");
    EXPECT_EQ(r.client_splice_fd, -1);
    EXPECT_EQ(r.echoed, "hello agent|hello server");
    ASSERT_TRUE(r.cert.has_value());
    EXPECT_EQ(r.cert->subject, "CN=agent-9");
    EXPECT_EQ(r.cert->JoinedSans(), "DNS:agent-9.test");
    EXPECT_EQ(r.cert->fingerprint_sha256.size(), 64u);
  }
}

TEST(LinkTest, WrongPathIsARejectedUpgrade) {
  asio::io_context io;
  LinkDialSpec spec = Spec(url::LinkScheme::kWs);
  spec.server.path = "/elsewhere";
  LinkAcceptSpec accept;
  accept.websocket = true;
  std::error_code client_error, server_error;
  RunOn(io, [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    tcp::acceptor acceptor(ex, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    spec.server.host = "127.0.0.1";
    spec.server.port = acceptor.local_endpoint().port();
    auto client = [&]() -> asio::awaitable<void> {
      try {
        co_await DialLink(spec);
      } catch (const std::system_error& e) {
        client_error = e.code();
      }
    };
    auto server = [&]() -> asio::awaitable<void> {
      tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
      try {
        co_await AcceptLink(AdoptTcp(std::move(s), "c"), accept);
      } catch (const std::system_error& e) {
        server_error = e.code();
      }
    };
    co_await (client() && server());
  });
  EXPECT_EQ(client_error, make_error_code(TransportError::kHandshakeRejected));
  EXPECT_EQ(server_error, make_error_code(TransportError::kHandshakeRejected));
}

TEST(LinkTest, ProxyWantingCredentials) {
  asio::io_context io;
  std::error_code error;
  std::string request;
  RunOn(io, [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    tcp::acceptor proxy(ex, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    LinkDialSpec spec = Spec(url::LinkScheme::kWss);
    spec.server.host = "tunnel.example";
    spec.server.port = 443;
    spec.proxy = url::ProxyUrl{"127.0.0.1", proxy.local_endpoint().port(), std::nullopt};
    auto ctx = net::MakeClientTlsContext({});
    spec.tls = ctx->get();
    auto client = [&]() -> asio::awaitable<void> {
      try {
        co_await DialLink(spec);
      } catch (const std::system_error& e) {
        error = e.code();
      }
    };
    auto fake_proxy = [&]() -> asio::awaitable<void> {
      auto conn = AdoptTcp(co_await proxy.async_accept(asio::use_awaitable), "agent");
      http1::HeadAndRest head = co_await http1::ReadHead(*conn, 8192);
      request = head.head;
      co_await conn->WriteAll(asio::buffer(std::string(
          "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")));
      conn->Close();
    };
    co_await (client() && fake_proxy());
  });
  EXPECT_EQ(request.rfind("CONNECT tunnel.example:443 HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_EQ(error, make_error_code(TransportError::kProxyAuthRequired));
}

TEST(LinkTest, SilentServerTimesOut) {
  asio::io_context io;
  std::error_code error;
  auto started = std::chrono::steady_clock::now();
  RunOn(io, [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    tcp::acceptor acceptor(ex, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    LinkDialSpec spec = Spec(url::LinkScheme::kWs);
    spec.server.host = "127.0.0.1";
    spec.server.port = acceptor.local_endpoint().port();
    spec.timeout = std::chrono::milliseconds(300);
    tcp::socket held(ex);  // accepted by the kernel backlog, never answered
    try {
      co_await DialLink(spec);
    } catch (const std::system_error& e) {
      error = e.code();
    }
  });
  EXPECT_EQ(error, asio::error::timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

}  // namespace
}  // namespace reitunnel::transport
