#pragma once

// The tunnel agent: keeps control sessions to the server alive (one, or in
// cluster mode one per live replica, all dialed through the same address:
// the load balancer), restores its tunnels on each, and keeps idle data
// connections open, spread over its workers, that visitors are relayed
// over.

#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "asio/awaitable.hpp"
#include "asio/steady_timer.hpp"
#include "client/backoff.h"
#include "client/server_dialer.h"
#include "client/session.h"
#include "common/net/tls.h"
#include "reitunnel/config/v1/agent.pb.h"
#include "reitunnel/wire/v1/wire.pb.h"

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
  struct Attempt {
    enum class Kind { kConnected, kRetry, kDuplicate, kFatal, kStopped } kind = Kind::kRetry;
    FailureKind failure = FailureKind::kUnreachable;
    std::chrono::milliseconds retry_after{0};
    std::shared_ptr<Session> session;
  };
  using TunnelState = Session::TunnelState;

  // One dial + handshake.
  asio::awaitable<Attempt> Connect();
  // Serves one established session until it ends.
  asio::awaitable<void> ServeSession(std::shared_ptr<Session> s);
  // True while some live replica (or, standalone, the server) has no
  // session.
  bool NeedConnection() const;
  void UpdateReplicas(const google::protobuf::RepeatedPtrField<wire::v1::Replica>& replicas);
  asio::awaitable<void> Heartbeat(std::shared_ptr<Session> s);
  asio::awaitable<void> RetryTunnel(std::shared_ptr<Session> s, std::string name,
                                    std::chrono::milliseconds at_least);
  void HandleFrame(const std::shared_ptr<Session>& s, wire::v1::Frame& f, std::string* reason);
  void OpenTunnel(Session& s, const std::string& name);
  // A tunnel got its port on one session: open it with that port on the
  // sessions that were waiting for it.
  void PortAssigned(const std::string& name);
  void Refill(const std::shared_ptr<Session>& s);
  bool AllTunnelsPermanentlyRefused(const Session& s) const;
  void Wake() { wake_.cancel(); }

  runtime::WorkerPool& workers_;
  asio::any_io_executor ex_;
  config::v1::AgentConfig cfg_;
  net::SslCtxPtr tls_;
  ServerDialer dialer_;
  std::string instance_id_;
  Backoff backoff_;
  asio::steady_timer backoff_timer_;
  asio::steady_timer wake_;
  // Live sessions by replica id ("" for a standalone server).
  std::map<std::string, std::shared_ptr<Session>> sessions_;
  // The live replica set as the servers last told it (cluster mode).
  std::map<std::string, wire::v1::Replica> replicas_;
  bool cluster_ = false;
  // Public port the server gave each tunnel; requested again on reconnect
  // and on every other replica, so a tunnel has one address everywhere.
  std::map<std::string, uint32_t> assigned_ports_;
  // Port-0 tunnels whose port some session is picking right now.
  std::set<std::string> picking_;
  std::mt19937_64 rng_;
  int next_worker_ = 0;
  int attempt_ = 0;  // reconnect attempts since the last lasting session
  bool fatal_ = false;
  std::atomic<bool> stopping_{false};
};

}  // namespace reitunnel::client
