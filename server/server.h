#pragma once

// The tunnel server's data plane, assembled: the worker threads, the agent
// listener, the session registry, admission and brute-force throttling,
// bans, ports, hooks, the watchdog, and graceful shutdown. The control
// executor (main thread) runs start-up, drain, the hook dispatcher and
// periodic housekeeping; sessions and relays run on the workers.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "asio/awaitable.hpp"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "common/net/tls.h"
#include "grpcpp/support/status.h"
#include "reitunnel/config/v1/server.pb.h"
#include "reitunnel/wire/v1/wire.pb.h"
#include "server/auth/agent_directory.h"
#include "server/auth/auth_throttle.h"
#include "server/auth/authenticator.h"
#include "server/auth/tls_context.h"
#include "server/listener/admission.h"
#include "server/listener/reject_log.h"
#include "server/ports/port_allocator.h"
#include "server/registry/bans.h"
#include "server/registry/session_registry.h"
#include "server/session/active_visitors.h"
#include "server/session/session_deps.h"
#include "server/vhost/routes.h"

namespace reitunnel::runtime {
class WorkerPool;
}

namespace reitunnel::server {

class AgentListener;
class ClusterNode;
struct HandshakeEnv;
class HookDispatcher;
class Watchdog;
namespace vhost {
class VhostListener;
}

class Server {
 public:
  // `cfg` has defaults filled in and is validated; `tls` and `hooks` may be
  // null; `hooks` runs on `control`.
  Server(asio::any_io_executor control, runtime::WorkerPool& workers,
         config::v1::ServerConfig cfg, net::SslCtxPtr tls, asio::ip::address public_bind_addr,
         uint16_t port_low, uint16_t port_high, std::unique_ptr<HookDispatcher> hooks);
  ~Server();

  // Start-up, on the control executor, in this order:
  // Waits (bounded by hook_settings.startup_wait_ms) for every hook to
  // answer Describe; fails on a configuration error (a hook lacks an event
  // it is explicitly subscribed to) or when an unreachable hook would have
  // to decide OnServerStart and fails closed.
  asio::awaitable<absl::Status> PrepareHooks();
  // OnServerStart: a denial (or a failure-policy refusal) is an error.
  asio::awaitable<absl::Status> CheckServerStart();
  // Per-agent identities (config agents:); before Start().
  void SetIdentities(std::shared_ptr<const AgentDirectory> agents);
  // Binds the agent listener (and the WebSocket one with ws_listen) and
  // starts accepting.
  absl::Status Start();
  // Cluster mode (before Start()): the server uses `node` for port claims,
  // tells agents the replica set and closes tunnels whose claim is lost.
  void SetCluster(std::unique_ptr<ClusterNode> node);
  // After Start(): registers this replica (bounded by `wait`).
  asio::awaitable<absl::Status> JoinCluster(const std::string& admin_address,
                                            std::chrono::milliseconds wait);
  ClusterNode* cluster() { return cluster_.get(); }

  // Graceful shutdown: stop accepting agents and visitors, tell agents, wait
  // for active visitors up to the drain time, close everything, then call
  // `done` on the control executor.
  void Shutdown(std::function<void()> done);

  // SIGHUP, on the control executor (server_reload.cc). `next` is loaded
  // and validated like the start-up config. Everything that can fail (TLS
  // files, token files) is prepared first: on error nothing changes. Then
  // the TLS certificate/key/client CA (new handshakes use them, established
  // links keep theirs), the shared token and `agents:` (sessions whose
  // credential lapsed are cut), admission and brute-force limits, hook
  // timeouts/failure policies/strategy and the log level apply live; other
  // differences are reported as needing a restart.
  struct ReloadReport {
    std::vector<std::string> applied;
    std::vector<std::string> needs_restart;
    size_t sessions_cut = 0;
  };
  absl::StatusOr<ReloadReport> Reload(const config::v1::ServerConfig& next);
  // Admin, any thread: refuses the configured agent `id` (with its current
  // token) until restart and cuts its sessions; `done` runs on the control
  // executor with NOT_FOUND for an id that is not configured, else OK and
  // the number of sessions cut.
  void RevokeAgent(const std::string& id, std::function<void(grpc::Status, size_t)> done);
  Authenticator& auth() { return auth_; }

  // Called on the control executor whenever the watchdog's verdict changes.
  void set_on_health_change(std::function<void(bool)> f) { on_health_change_ = std::move(f); }
  bool data_plane_healthy() const;

  // Admin actions, from any thread; `done` runs on some worker or control.
  // `ban` > 0 also bans the agent (kick) or the tunnel name (close).
  void Kick(const std::string& client_id, const std::string& reason, std::chrono::seconds ban,
            std::function<void(grpc::Status)> done);
  void CloseTunnel(const std::string& tunnel_id, const std::string& reason,
                   std::chrono::seconds ban, std::function<void(grpc::Status)> done);

  // Read-only views for admin and metrics, any thread.
  const config::v1::ServerConfig& config() const { return cfg_; }
  SessionRegistry& registry() { return registry_; }
  Bans& bans() { return bans_; }
  HookDispatcher* hooks() { return hooks_.get(); }
  PortAllocator& ports() { return ports_; }
  AuthThrottle& throttle() { return throttle_; }
  RejectLog& rejects() { return rejects_; }
  ActiveVisitors& active_visitors() { return active_; }
  runtime::WorkerPool& workers() { return workers_; }
  bool draining() const { return draining_.load(); }
  std::chrono::system_clock::time_point started_at() const { return started_at_; }
  std::string listen_addr() const;
  // The WebSocket listener's "ip:port", "" when off.
  std::string ws_listen_addr() const;
  // The routed listeners' "ip:port", "" when off.
  std::string http_listen_addr() const;
  std::string sni_listen_addr() const;
  std::string instance_id() const;

 private:
  asio::awaitable<void> Drain(std::function<void()> done);
  // Cluster mode: public ports keep taking visitors for `grace` after the
  // agent port closed, so a balancer that health-checks the agent port
  // stops sending visitors here before they would be refused (connections
  // already queued on a closing listener would be reset).
  asio::awaitable<void> DrainAfterGrace(std::chrono::milliseconds grace,
                                        std::function<void()> done);
  void StopAcceptingVisitors();
  asio::awaitable<void> Housekeeping();
  absl::Status StartWebSocketListener(const HandshakeEnv& tcp_env);
  // --http-listen and --sni-listen (server_vhost_listeners.cc); before the
  // agent listener, so sessions see the routers.
  absl::Status StartVhostListeners();
  void CloseVhostListeners();
  // Ends every session whose credential no longer holds (reload, revoke);
  // the housekeeping loop repeats it for a handshake timeout after a change
  // so a handshake that authenticated just before still cannot slip in.
  size_t CutLapsedSessions();
  void SweepLapsedSessionsIfDue();
  void OnReplicasChanged(const std::vector<wire::v1::Replica>& replicas);
  void OnClaimLost(uint16_t port, const std::string& why);

  asio::any_io_executor control_;
  runtime::WorkerPool& workers_;
  config::v1::ServerConfig cfg_;
  std::unique_ptr<TlsContext> tls_;
  PortAllocator ports_;
  std::unique_ptr<HookDispatcher> hooks_;
  std::unique_ptr<ClusterNode> cluster_;
  SessionRegistry registry_;
  Bans bans_;
  Admission admission_;
  AuthThrottle throttle_;
  RejectLog rejects_;
  Authenticator auth_;
  ActiveVisitors active_;
  std::atomic<bool> draining_{false};
  SessionSettings settings_;
  std::unique_ptr<AgentListener> listener_;
  std::unique_ptr<AgentListener> ws_listener_;
  vhost::Routes routes_;
  // Connections still reading their head: at most 4096, 256 per address.
  Admission vhost_admission_{AdmissionLimits{4096, 256, 0}};
  std::unique_ptr<vhost::VhostListener> http_listener_;
  std::unique_ptr<vhost::VhostListener> sni_listener_;
  // Control executor: the reloadable settings in force (cfg_ keeps the
  // start-up config, which is what runs for everything else).
  config::v1::ServerConfig running_;
  std::chrono::steady_clock::time_point sweep_until_{};
  // Sessions told to go during the current sweep window (not told twice).
  std::set<std::shared_ptr<SessionEntry>> cut_;
  std::unique_ptr<Watchdog> watchdog_;
  std::function<void(bool)> on_health_change_;
  asio::steady_timer housekeeping_;
  asio::steady_timer wake_;  // drain waits here
  std::chrono::system_clock::time_point started_at_ = std::chrono::system_clock::now();
};

}  // namespace reitunnel::server
