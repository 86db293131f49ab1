#pragma once

// The shared listeners of routed tunnels: --http-listen (routed by the first
// request's Host) and --sni-listen (routed by the TLS ClientHello's server
// name, TLS passed through). One socket per worker (a SO_REUSEPORT group);
// each connection is read only as far as routing needs (bounded in size and
// time), then handed with those bytes to the tunnel's session shard on the
// same worker, which relays it like any visitor.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "asio/awaitable.hpp"
#include "asio/ip/tcp.hpp"
#include "server/listener/accept_group.h"
#include "server/listener/admission.h"
#include "server/vhost/routes.h"

namespace reitunnel::runtime {
class WorkerPool;
}
namespace reitunnel::net {
class Conn;
}

namespace reitunnel::server::vhost {

class VhostListener {
 public:
  enum class Mode { kHttp, kTls };
  struct Options {
    Mode mode = Mode::kHttp;
    std::chrono::milliseconds head_timeout{10000};
    size_t max_head_bytes = 16 * 1024;
  };

  // `router` and `admission` outlive the listener.
  VhostListener(Options options, runtime::WorkerPool* workers, Router* router,
                Admission* admission);
  ~VhostListener();

  absl::Status Listen(const asio::ip::tcp::endpoint& ep) { return group_.Listen(ep); }
  // Stops accepting; connections already routed keep relaying.
  void Close() { group_.Close(); }
  const std::string& address() const { return group_.address(); }
  uint16_t port() const { return group_.port(); }

 private:
  void Accepted(int worker, asio::ip::tcp::socket socket, std::string peer);
  asio::awaitable<void> Serve(int worker, std::shared_ptr<net::Conn> conn,
                              Admission::Ticket ticket);
  // The tunnel for this connection and the bytes to forward to it, or null
  // (an answer, if any, has been sent).
  asio::awaitable<std::shared_ptr<const RoutedTunnel>> RouteHttp(int worker, net::Conn& conn,
                                                                 std::string* forward);
  asio::awaitable<std::shared_ptr<const RoutedTunnel>> RouteTls(int worker, net::Conn& conn,
                                                                std::string* forward);

  Options options_;
  runtime::WorkerPool* workers_;
  Router* router_;
  Admission* admission_;
  // One per worker, used only on its worker.
  std::vector<std::unique_ptr<Router::Reader>> readers_;
  AcceptGroup group_;
};

}  // namespace reitunnel::server::vhost
