// net::Conn (conn.h): TLS driven through OpenSSL on the non-blocking fd,
// with a throwaway certificate; half-close as one close_notify while the
// other direction keeps flowing; hand-over to another event loop.

#include "common/net/conn.h"

#include <string>
#include <system_error>
#include <vector>

#include "asio/experimental/awaitable_operators.hpp"
#include "asio/io_context.hpp"
#include "gtest/gtest.h"
#include "tests/common/net/net_test_util.h"
#include "tests/common/net/test_cert.h"

namespace reitunnel::net {
namespace {

using namespace asio::experimental::awaitable_operators;
using testing::ConnPair;
using testing::ReadAll;
using testing::RunOn;
using testing::TcpPair;

class TlsConnTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(tls_.Init()); }

  // Runs both handshakes; returns the client's and the server's error ("" on
  // success).
  asio::awaitable<std::pair<std::string, std::string>> Handshake(ConnPair& p, SSL_CTX* client_ctx,
                                                                 const std::string& name) {
    std::string client_error, server_error;
    auto client = [&]() -> asio::awaitable<void> {
      try {
        co_await p.client->TlsConnect(client_ctx, name);
      } catch (const std::system_error& e) {
        client_error = e.what();
        p.client->Close();  // the server's handshake fails instead of waiting
      }
    };
    auto server = [&]() -> asio::awaitable<void> {
      try {
        co_await p.server->TlsAccept(tls_.server.get());
      } catch (const std::system_error& e) {
        server_error = e.what();
        p.server->Close();
      }
    };
    co_await (client() && server());
    co_return std::make_pair(client_error, server_error);
  }

  testing::TlsContexts tls_;
};

TEST_F(TlsConnTest, HalfCloseIsOneCloseNotifyAndReadsContinue) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await testing::TlsPair(tls_);
    EXPECT_TRUE(p.client->is_tls());
    EXPECT_STREQ(p.client->kind(), "tls");
    EXPECT_EQ(p.client->splice_fd(), -1);
    EXPECT_NE(p.server->ssl(), nullptr);
    const std::string req = "GET / HTTP/1.0\r\n\r\n";
    co_await p.client->WriteAll(asio::buffer(req));
    p.client->ShutdownSend();
    // The server reads the request, then EOF (the close_notify)...
    EXPECT_EQ(co_await ReadAll(*p.server), req);
    // ...and still answers at length over the same TLS session.
    auto server_send = [&]() -> asio::awaitable<std::string> {
      std::string sha = co_await testing::SendBulk(*p.server, 3 << 20, 9);
      p.server->ShutdownSend();
      co_return sha;
    };
    auto [sent, got] = co_await (server_send() && testing::ReceiveBulk(*p.client));
    EXPECT_EQ(got.bytes, size_t{3} << 20);
    EXPECT_TRUE(got.sha256 == sent);
  });
}

TEST_F(TlsConnTest, BulkBothWaysAtOnceOnOneSession) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await testing::TlsPair(tls_);
    constexpr size_t kBytes = 6 << 20;
    auto client_send = [&]() -> asio::awaitable<std::string> {
      std::string sha = co_await testing::SendBulk(*p.client, kBytes, 1);
      p.client->ShutdownSend();
      co_return sha;
    };
    auto server_send = [&]() -> asio::awaitable<std::string> {
      std::string sha = co_await testing::SendBulk(*p.server, kBytes, 2);
      p.server->ShutdownSend();
      co_return sha;
    };
    auto [c_sent, s_sent, s_got, c_got] =
        co_await (client_send() && server_send() && testing::ReceiveBulk(*p.server) &&
                  testing::ReceiveBulk(*p.client));
    EXPECT_EQ(s_got.bytes, kBytes);
    EXPECT_EQ(c_got.bytes, kBytes);
    EXPECT_TRUE(s_got.sha256 == c_sent);
    EXPECT_TRUE(c_got.sha256 == s_sent);
  });
}

TEST_F(TlsConnTest, TcpEofWithoutCloseNotifyReadsAsEof) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await testing::TlsPair(tls_);
    const std::string data = "last words";
    co_await p.client->WriteAll(asio::buffer(data));
    asio::error_code ec;
    p.client->socket().shutdown(tcp::socket::shutdown_send, ec);  // FIN, no close_notify
    EXPECT_EQ(co_await ReadAll(*p.server), data);
    char byte;
    bool threw = false;
    try {
      co_await p.server->ReadExactly(asio::buffer(&byte, 1));
    } catch (const std::system_error& e) {
      threw = e.code() == asio::error::eof;
      if (!threw) ADD_FAILURE() << "second read after EOF: " << e.code() << " " << e.what();
    }
    EXPECT_TRUE(threw);
  });
}

TEST_F(TlsConnTest, WrongNameOrAddressFailsVerification) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    const std::vector<std::string> wrong = {"not-this-host.example", "127.0.0.2"};
    for (const std::string& name : wrong) {
      ConnPair p = co_await TcpPair();
      auto [client_error, server_error] = co_await Handshake(p, tls_.client.get(), name);
      EXPECT_NE(client_error.find("TLS handshake failed"), std::string::npos)
          << name << ": " << client_error;
      EXPECT_NE(server_error, "") << name;
    }
    // The names the certificate carries pass.
    const std::vector<std::string> right = {"localhost", "127.0.0.1"};
    for (const std::string& name : right) {
      ConnPair p = co_await TcpPair();
      auto [client_error, server_error] = co_await Handshake(p, tls_.client.get(), name);
      EXPECT_EQ(client_error, "") << name;
      EXPECT_EQ(server_error, "") << name;
    }
  });
}

TEST_F(TlsConnTest, UntrustedCertificateFails) {
  testing::TlsContexts other;
  ASSERT_TRUE(other.Init());
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    // `other.client` trusts only its own certificate, not the server's.
    auto [client_error, server_error] = co_await Handshake(p, other.client.get(), "127.0.0.1");
    EXPECT_NE(client_error.find("certificate verify failed"), std::string::npos) << client_error;
  });
}

TEST_F(TlsConnTest, MoveToCarriesTheTlsSessionToAnotherLoop) {
  asio::io_context first;
  asio::io_context second;
  ConnPair p;
  RunOn(first, [&]() -> asio::awaitable<void> {
    p = co_await testing::TlsPair(tls_);
    const std::string hello = "before the move";
    co_await p.client->WriteAll(asio::buffer(hello));
  });
  const std::string peer = p.server->peer();
  auto server = p.server->MoveTo(second.get_executor());
  auto client = p.client->MoveTo(second.get_executor());
  EXPECT_FALSE(p.server->is_open());
  EXPECT_FALSE(p.client->is_open());
  EXPECT_TRUE(server->is_tls());
  EXPECT_EQ(server->peer(), peer);
  RunOn(second, [&]() -> asio::awaitable<void> {
    EXPECT_EQ(co_await transport::testing::ReadN(*server, 15), "before the move");
    const std::string reply = "after the move";
    co_await server->WriteAll(asio::buffer(reply));
    server->ShutdownSend();
    EXPECT_EQ(co_await ReadAll(*client), reply);
  });
}

TEST(ConnTest, PlainTcpBasics) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    EXPECT_FALSE(p.client->is_tls());
    EXPECT_STREQ(p.client->kind(), "tcp");
    EXPECT_EQ(p.client->splice_fd(), p.client->socket().native_handle());
    EXPECT_FALSE(p.client->has_buffered_input());
    auto local = p.client->socket().local_endpoint();
    EXPECT_EQ(p.server->peer(), "127.0.0.1:" + std::to_string(local.port()));
    Conn given(tcp::socket(io), "10.1.2.3:4");
    EXPECT_EQ(given.peer(), "10.1.2.3:4");
    // ReadExactly: all of it, or eof.
    const std::string data = "0123456789";
    co_await p.client->WriteAll(asio::buffer(data));
    p.client->ShutdownSend();
    char buf[6];
    co_await p.server->ReadExactly(asio::buffer(buf, 6));
    EXPECT_EQ(std::string(buf, 6), "012345");
    bool eof = false;
    try {
      co_await p.server->ReadExactly(asio::buffer(buf, 6));
    } catch (const std::system_error& e) {
      eof = e.code() == asio::error::eof;
    }
    EXPECT_TRUE(eof);
  });
}

TEST(ConnTest, PeerOfAnUnconnectedSocketIsAQuestionMark) {
  asio::io_context io;
  tcp::socket s(io);
  EXPECT_EQ(PeerString(s), "?");
}

}  // namespace
}  // namespace reitunnel::net
