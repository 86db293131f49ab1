#pragma once

// The tunnel server's data plane: the agent listener, the handshake, and the
// registry of agent sessions. Runs on one io_context thread.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "asio/awaitable.hpp"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/steady_timer.hpp"
#include "common/net/conn.h"
#include "common/net/tls.h"
#include "reitunnel/config/v1/server.pb.h"
#include "server/port_allocator.h"

namespace reitunnel::server {

class AgentSession;

class Server {
 public:
  // `cfg` has defaults filled in and is validated. `tls` may be null.
  Server(asio::io_context& io, config::v1::ServerConfig cfg, net::SslCtxPtr tls,
         PortAllocator ports);
  ~Server();

  // Binds the agent listener and starts accepting.
  absl::Status Start();
  asio::ip::tcp::endpoint agent_endpoint() const;

  // Graceful shutdown: stop accepting agents and visitors, tell agents, wait
  // for active visitors up to the drain time, close everything, then call
  // `done` on the io_context.
  void Shutdown(std::function<void()> done);

  // For sessions.
  asio::io_context& io() { return io_; }
  asio::any_io_executor executor() { return io_.get_executor(); }
  const config::v1::ServerConfig& config() const { return cfg_; }
  const PortAllocator& ports() const { return ports_; }
  bool draining() const { return draining_; }
  std::chrono::milliseconds idle_timeout() const {
    return std::chrono::milliseconds(cfg_.timeouts().idle_ms());
  }
  void RemoveSession(const std::string& client_id);

 private:
  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> HandleConnection(asio::ip::tcp::socket socket);
  asio::awaitable<void> Drain(std::function<void()> done);
  size_t ActiveVisitors() const;

  asio::io_context& io_;
  config::v1::ServerConfig cfg_;
  net::SslCtxPtr tls_;
  PortAllocator ports_;
  asio::ip::tcp::acceptor acceptor_;
  std::unordered_map<std::string, std::shared_ptr<AgentSession>> sessions_;
  size_t handshakes_in_flight_ = 0;
  bool draining_ = false;
};

}  // namespace reitunnel::server
