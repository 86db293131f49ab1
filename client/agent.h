#pragma once

// The tunnel agent: keeps one control session to the server alive
// (reconnecting with backoff and jitter), restores its tunnels, and keeps a
// pool of pre-opened data connections that visitors are relayed over.

#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "asio/awaitable.hpp"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "common/net/conn.h"
#include "common/net/frame_io.h"
#include "common/net/tls.h"
#include "reitunnel/config/v1/agent.pb.h"

namespace reitunnel::client {

class Agent {
 public:
  Agent(asio::io_context& io, config::v1::AgentConfig cfg, net::SslCtxPtr tls);
  ~Agent();

  // Runs until Stop() or a permanent refusal; returns the process exit code.
  asio::awaitable<int> Run();
  void Stop();

 private:
  struct Session;
  enum class Outcome { kRetry, kFatal, kStopped };

  asio::awaitable<Outcome> RunSession();
  asio::awaitable<std::shared_ptr<net::Conn>> ConnectServer();
  asio::awaitable<void> Heartbeat(std::shared_ptr<Session> s);
  asio::awaitable<void> DataConnection(std::shared_ptr<Session> s);
  asio::awaitable<void> RetryTunnel(std::shared_ptr<Session> s, std::string name);
  void OpenTunnel(Session& s, const std::string& name);
  void Refill(const std::shared_ptr<Session>& s);
  // True when every configured tunnel was refused for a reason retrying
  // cannot fix; the agent then exits 1.
  bool AllTunnelsPermanentlyRefused(const Session& s) const;
  std::chrono::milliseconds Backoff(int attempt);

  asio::io_context& io_;
  config::v1::AgentConfig cfg_;
  net::SslCtxPtr tls_;
  std::string server_host_;
  uint16_t server_port_ = 0;
  std::string server_name_;
  asio::steady_timer backoff_timer_;
  std::shared_ptr<Session> current_;
  // Public port the server gave each tunnel; requested again on reconnect so
  // a tunnel comes back at the same address after a server restart.
  std::map<std::string, uint32_t> assigned_ports_;
  std::mt19937_64 rng_;
  bool stopping_ = false;
};

}  // namespace reitunnel::client
