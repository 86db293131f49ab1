#include "client/server_dialer.h"

#include "asio/this_coro.hpp"
#include "common/config/parse.h"
#include "common/net/deadline.h"
#include "common/net/dial.h"

namespace reitunnel::client {

ServerDialer::ServerDialer(const config::v1::AgentConfig& cfg, SSL_CTX* tls)
    : address_(cfg.server()), tls_(tls), timeout_(cfg.connect_timeout_ms()) {
  auto hp = config::ParseHostPort(cfg.server());
  if (hp.ok()) {
    host_ = hp->host;
    port_ = hp->port;
  }
  server_name_ = cfg.tls().server_name().empty() ? host_ : cfg.tls().server_name();
}

asio::awaitable<std::shared_ptr<net::Conn>> ServerDialer::Dial() const {
  auto socket = co_await net::Dial(host_, port_, timeout_);
  auto conn = std::make_shared<net::Conn>(std::move(socket));
  if (tls_) {
    auto ex = co_await asio::this_coro::executor;
    net::Deadline deadline(ex, timeout_, [conn] { conn->Close(); });
    co_await conn->TlsConnect(tls_, server_name_);
  }
  co_return conn;
}

}  // namespace reitunnel::client
