#pragma once

// What the shared HTTP and TLS listeners route to: the open http: and tls:
// tunnels by host name. A session claims a name when a routed tunnel opens
// and releases it when the tunnel closes; the listener on worker w hands a
// visitor to the tunnel's session shard on the same worker w (every session
// has one per worker), so no fd changes threads on the way.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/http/basic_auth.h"
#include "server/vhost/host_router.h"

namespace reitunnel::server {
class SessionShard;
class TunnelCore;
}  // namespace reitunnel::server

namespace reitunnel::server::vhost {

// Immutable once claimed.
struct RoutedTunnel {
  std::shared_ptr<TunnelCore> core;
  // The session's shards, indexed by worker.
  std::vector<std::weak_ptr<SessionShard>> shards;
  // HTTP only.
  std::optional<http::BasicAuth> basic_auth;
  bool x_forwarded = false;
};

// A route does not keep a closed tunnel alive.
using Route = std::weak_ptr<const RoutedTunnel>;
using Router = HostRouter<Route>;

// The listeners' addresses and their routers; a router exists only while
// its listener is configured.
class Routes {
 public:
  Router* http() { return http_ ? &http_->router : nullptr; }
  Router* tls() { return tls_ ? &tls_->router : nullptr; }
  // "ip:port" and port of the listener, for tunnel descriptions.
  const std::string& http_addr() const { return http_->addr; }
  uint16_t http_port() const { return http_->port; }
  const std::string& tls_addr() const { return tls_->addr; }
  uint16_t tls_port() const { return tls_->port; }

  // At start-up, before any session exists.
  void EnableHttp(std::string addr, uint16_t port) {
    http_ = std::make_unique<Entry>(std::move(addr), port);
  }
  void EnableTls(std::string addr, uint16_t port) {
    tls_ = std::make_unique<Entry>(std::move(addr), port);
  }
  void SetHttpAddress(std::string addr, uint16_t port) {
    http_->addr = std::move(addr);
    http_->port = port;
  }
  void SetTlsAddress(std::string addr, uint16_t port) {
    tls_->addr = std::move(addr);
    tls_->port = port;
  }

 private:
  struct Entry {
    Entry(std::string a, uint16_t p) : addr(std::move(a)), port(p) {}
    std::string addr;
    uint16_t port;
    Router router;
  };
  std::unique_ptr<Entry> http_;
  std::unique_ptr<Entry> tls_;
};

}  // namespace reitunnel::server::vhost
