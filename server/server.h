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
class HookDispatcher;
struct TunnelTotals;

class Server {
 public:
  // `cfg` has defaults filled in and is validated. `tls` and `hooks` may be
  // null; `hooks` must live on `io`.
  Server(asio::io_context& io, config::v1::ServerConfig cfg, net::SslCtxPtr tls,
         PortAllocator ports, std::unique_ptr<HookDispatcher> hooks);
  ~Server();

  // Asks the hooks (OnServerStart); a denial or, under fail_closed, an
  // unreachable hook is returned as an error with the reason.
  asio::awaitable<absl::Status> CheckServerStart();
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
  HookDispatcher* hooks() { return hooks_.get(); }
  // Logs nothing itself; forwards to hooks subscribed to "error".
  void ReportError(const std::string& component, const std::string& message,
                   const std::string& remote_addr);
  const std::unordered_map<std::string, std::shared_ptr<AgentSession>>& sessions() const {
    return sessions_;
  }
  // Totals of tunnels already closed, so server-wide byte counters are
  // monotonic.
  void AddClosedTotals(const TunnelTotals& t);
  uint64_t closed_bytes_in() const { return closed_bytes_in_; }
  uint64_t closed_bytes_out() const { return closed_bytes_out_; }
  std::chrono::system_clock::time_point started_at() const { return started_at_; }
  std::string listen_addr() const;

 private:
  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> HandleConnection(asio::ip::tcp::socket socket);
  asio::awaitable<void> Drain(std::function<void()> done);
  asio::awaitable<void> FlushLoop();
  size_t ActiveVisitors() const;

  asio::io_context& io_;
  config::v1::ServerConfig cfg_;
  net::SslCtxPtr tls_;
  PortAllocator ports_;
  std::unique_ptr<HookDispatcher> hooks_;
  asio::steady_timer flush_timer_;
  asio::ip::tcp::acceptor acceptor_;
  std::unordered_map<std::string, std::shared_ptr<AgentSession>> sessions_;
  size_t handshakes_in_flight_ = 0;
  uint64_t closed_bytes_in_ = 0;
  uint64_t closed_bytes_out_ = 0;
  std::chrono::system_clock::time_point started_at_ = std::chrono::system_clock::now();
  bool draining_ = false;
};

}  // namespace reitunnel::server
