// WebSocket over TLS (wss): net::Conn's TLS under WsStream, with a
// throwaway certificate made by the openssl CLI.

#include <cstdlib>
#include <filesystem>

#include "asio/experimental/awaitable_operators.hpp"
#include "common/net/tls.h"
#include "gtest/gtest.h"
#include "tests/common/transport/ws/ws_test_util.h"

namespace reitunnel::transport {
namespace {

using namespace asio::experimental::awaitable_operators;
using testing::ConnPair;
using testing::RunOn;
using testing::TcpPair;

class WsTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ws_tls_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
        dir_ + "/key.pem -out " + dir_ + "/cert.pem 2>" + dir_ + "/openssl.log";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl failed, see " << dir_ << "/openssl.log";
    auto server = net::MakeServerTlsContext({dir_ + "/cert.pem", dir_ + "/key.pem", ""});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ctx_ = std::move(*server);
    auto client = net::MakeClientTlsContext({dir_ + "/cert.pem", "", ""});
    ASSERT_TRUE(client.ok()) << client.status();
    client_ctx_ = std::move(*client);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  net::SslCtxPtr server_ctx_;
  net::SslCtxPtr client_ctx_;
};

TEST_F(WsTlsTest, WssTransferAndCloseHandshake) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    co_await (p.client->TlsConnect(client_ctx_.get(), "127.0.0.1") &&
              p.server->TlsAccept(server_ctx_.get()));
    testing::WsPair ws = co_await testing::Handshake(p.client, p.server);
    EXPECT_STREQ(ws.client->kind(), "wss");
    EXPECT_STREQ(ws.server->kind(), "wss");
    constexpr size_t kBytes = 4 << 20;
    auto client_send = [&]() -> asio::awaitable<std::string> {
      std::string sha = co_await testing::SendBulk(*ws.client, kBytes, 5);
      ws.client->ShutdownSend();
      co_return sha;
    };
    auto server_send = [&]() -> asio::awaitable<std::string> {
      std::string sha = co_await testing::SendBulk(*ws.server, kBytes, 6);
      ws.server->ShutdownSend();
      co_return sha;
    };
    auto [c_sent, s_sent, s_got, c_got] =
        co_await (client_send() && server_send() && testing::ReceiveBulk(*ws.server) &&
                  testing::ReceiveBulk(*ws.client));
    EXPECT_EQ(s_got.bytes, kBytes);
    EXPECT_EQ(c_got.bytes, kBytes);
    EXPECT_EQ(s_got.sha256, c_sent);
    EXPECT_EQ(c_got.sha256, s_sent);
    EXPECT_EQ(ws.client->peer_close_code(), 1000);
    EXPECT_EQ(ws.server->peer_close_code(), 1000);
  });
}

}  // namespace
}  // namespace reitunnel::transport
