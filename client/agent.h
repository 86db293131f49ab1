#pragma once

// The tunnel agent: keeps a control session to the server alive
// (reconnecting with backoff and jitter), restores its tunnels, and keeps
// idle data connections open, spread over its workers, that visitors are
// relayed over.

#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "asio/awaitable.hpp"
#include "asio/steady_timer.hpp"
#include "client/backoff.h"
#include "client/server_dialer.h"
#include "client/session.h"
#include "common/net/tls.h"
#include "reitunnel/config/v1/agent.pb.h"

namespace reitunnel::runtime {
class WorkerPool;
}

namespace reitunnel::client {

class Agent {
 public:
  // The agent's control loop runs on worker 0; links spread over all.
  Agent(runtime::WorkerPool& workers, config::v1::AgentConfig cfg, net::SslCtxPtr tls);
  ~Agent();

  // Runs until Stop() or a permanent refusal; returns the process exit code.
  // On worker 0.
  asio::awaitable<int> Run();
  // Any thread.
  void Stop();

 private:
  struct Outcome {
    enum class Kind { kRetry, kFatal, kStopped } kind = Kind::kRetry;
    FailureKind failure = FailureKind::kDisconnected;
    std::chrono::milliseconds retry_after{0};
    bool was_up = false;  // the session got past the handshake
  };
  enum class TunnelState { kPending, kOpen, kRetrying, kRefused };

  asio::awaitable<Outcome> RunSession();
  asio::awaitable<Outcome> Handshake(std::shared_ptr<Session> s);
  asio::awaitable<void> Heartbeat(std::shared_ptr<Session> s);
  asio::awaitable<void> RetryTunnel(std::shared_ptr<Session> s, std::string name,
                                    std::chrono::milliseconds at_least);
  void HandleFrame(const std::shared_ptr<Session>& s, wire::v1::Frame& f, std::string* reason);
  void OpenTunnel(Session& s, const std::string& name);
  void Refill(const std::shared_ptr<Session>& s);
  bool AllTunnelsPermanentlyRefused() const;

  runtime::WorkerPool& workers_;
  asio::any_io_executor ex_;
  config::v1::AgentConfig cfg_;
  net::SslCtxPtr tls_;
  ServerDialer dialer_;
  std::string instance_id_;
  Backoff backoff_;
  asio::steady_timer backoff_timer_;
  std::shared_ptr<Session> current_;
  std::map<std::string, TunnelState> state_;       // by name, current session
  std::map<std::string, int> retry_attempts_;      // by name, current session
  // Public port the server gave each tunnel; requested again on reconnect so
  // a tunnel comes back at the same address after a server restart.
  std::map<std::string, uint32_t> assigned_ports_;
  std::mt19937_64 rng_;
  int next_worker_ = 0;
  std::atomic<bool> stopping_{false};
};

}  // namespace reitunnel::client
