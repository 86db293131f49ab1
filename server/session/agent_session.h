#pragma once

// One authenticated agent: its control connection, its tunnels and its
// data connections. The session lives on its home worker (where the control
// connection was accepted); each worker holds a SessionShard with the links,
// tunnel listeners and visitors that live there.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "asio/awaitable.hpp"
#include "asio/steady_timer.hpp"
#include "common/net/buffered_stream.h"
#include "common/net/frame_io.h"
#include "server/ports/port_allocator.h"
#include "server/registry/bans.h"
#include "server/registry/session_registry.h"
#include "server/session/session_deps.h"
#include "server/hooks/hook_dispatcher.h"
#include "server/session/tunnel_core.h"
#include "server/tunnels/entrance.h"

namespace reitunnel::server {

class SessionShard;

// "tcp" (also for UNSPECIFIED), "udp", "http" or "tls".
std::string TunnelKindName(wire::v1::TunnelKind kind);

class AgentSession : public std::enable_shared_from_this<AgentSession> {
 public:
  // Registers the session and its shards (ResourceExhausted at max_agents).
  // On the home worker.
  static absl::StatusOr<std::shared_ptr<AgentSession>> Create(
      const SessionDeps& deps, AgentInfo info, std::string session_key, int home_worker,
      std::shared_ptr<net::BufferedStream> control, size_t max_agents);

  // Sends `welcome`, then serves the control connection until it ends, then
  // tears everything down (tunnels closed with exact totals, links closed,
  // hooks told).
  asio::awaitable<void> Run(wire::v1::Frame welcome);

  // On the home worker:
  // Ends the session from outside (shutdown, kick); Run() finishes cleanup.
  void Close(const std::string& reason, bool reconnect);
  // Stops every tunnel from accepting (drain) without ending the session.
  void StopAccepting();
  // Admin: closes one tunnel (hooks see OnTunnelClose, the agent is told).
  // False if the session has no such tunnel.
  asio::awaitable<bool> CloseTunnel(const std::string& tunnel_id, const std::string& reason);
  // A shard's visitors wait: ask the agent for more data connections.
  void RequestLinks(uint32_t n);
  // Cluster mode: tells the agent the live replica set.
  void SendClusterUpdate(const std::vector<wire::v1::Replica>& replicas);

  const AgentInfo& info() const { return entry_->info; }
  const std::shared_ptr<SessionEntry>& entry() const { return entry_; }

 private:
  struct Open {
    std::shared_ptr<TunnelCore> core;
    std::unique_ptr<Entrance> entrance;  // how visitors reach it (its kind)
  };
  // The TunnelInfo every kind shares, metadata included.
  TunnelInfo DescribeTunnel(const std::string& name, const wire::v1::OpenTunnel& req) const;
  // Asks OnTunnelOpen; nullopt when no hook is subscribed.
  asio::awaitable<std::optional<HookDecision>> DecideTunnelOpen(const TunnelInfo& ti);
  // Refuses the tunnel when the hook did not allow it (DENIED, or
  // UNAVAILABLE from a failure policy); false when it may open.
  bool RefusedByHook(const std::optional<HookDecision>& d, const std::string& name,
                     const wire::v1::OpenTunnel& req);
  // A hook allowed an open that then failed: OnTunnelClose with the reason.
  void BalanceAllowedOpen(const std::shared_ptr<TunnelCore>& core, const std::string& reason);
  // The tunnel is open on every shard: record it, tell hooks and the agent.
  void TunnelIsOpen(const std::string& name, const wire::v1::OpenTunnel& req, Open open);
  std::string ClaimOwner(const std::string& tunnel_name) const;

  AgentSession(const SessionDeps& deps, std::shared_ptr<SessionEntry> entry,
               std::shared_ptr<net::BufferedStream> control);
  asio::awaitable<void> Watchdog();
  asio::awaitable<void> HandleOpenTunnel(wire::v1::OpenTunnel req);
  void RefuseTunnel(const std::string& name, const wire::v1::OpenTunnel& req,
                    wire::v1::RefusalCode code, const std::string& reason,
                    uint32_t retry_after_ms = 0);
  void Retire(uint32_t n);
  // Stops the tunnels on every worker, then reports their final totals.
  asio::awaitable<void> FinishTunnels(std::vector<Open> tunnels, const std::string& reason);
  std::map<std::string, std::string> Metadata() const;
  std::vector<asio::any_io_executor> ShardExecutors() const;

  SessionDeps deps_;
  std::shared_ptr<SessionEntry> entry_;
  std::shared_ptr<net::BufferedStream> control_;
  std::shared_ptr<net::FrameWriter> writer_;
  asio::steady_timer watchdog_;
  std::chrono::steady_clock::time_point last_rx_;
  std::map<std::string, Open> tunnels_;  // by name
  std::string close_reason_;
  bool closed_ = false;
};

}  // namespace reitunnel::server
