#pragma once

// The tunnel-kind seam: how visitors reach one open tunnel. Everything else
// (the session, its data-connection pool, hooks, registry, admin) is shared
// by every kind; a kind is one Entrance. tcp and udp get a public port of
// their own (port_entrance), http and tls a host name on a shared listener
// (host_entrance). Adding a kind is a new Entrance and a case in
// MakeEntrance, plus how its shard serves visitors.
//
// Lifecycle, on the session's home worker: Reserve (before OnTunnelOpen, so
// the hook sees the real port or name), Start (after it allowed), and when
// the tunnel closes StopReaching (before the shards stop it) and Release
// (after). Release also undoes a Reserve whose tunnel never opened.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "asio/awaitable.hpp"
#include "reitunnel/wire/v1/wire.pb.h"
#include "server/ports/port_allocator.h"
#include "server/registry/agent_info.h"
#include "server/session/session_deps.h"
#include "server/session/tunnel_core.h"

namespace reitunnel::server {

class SessionShard;

// The part of a session an entrance may use.
struct EntranceContext {
  const SessionDeps* deps = nullptr;
  const AgentInfo* agent = nullptr;
  std::vector<std::shared_ptr<SessionShard>> shards;  // by worker
  std::string name;                                   // the tunnel's
  // Cluster mode: who claims the port (this agent process's tunnel `name`).
  std::string claim_owner;
};

class Entrance {
 public:
  virtual ~Entrance() = default;
  // Holds what the tunnel will be reached by and fills ti's remote_port,
  // public_addr and metadata ("kind", "remote_port", "hostname"). On a
  // refusal nothing is held.
  virtual asio::awaitable<std::optional<Refusal>> Reserve(TunnelInfo* ti) = 0;
  // Serves `core` on every shard.
  virtual asio::awaitable<std::optional<Refusal>> Start(std::shared_ptr<TunnelCore> core) = 0;
  // No new visitor reaches the tunnel from now on.
  virtual void StopReaching() {}
  // Frees what Reserve held; idempotent.
  virtual asio::awaitable<void> Release() = 0;
};

// The entrance for req.kind(), or null with *refusal set for a kind this
// server or this session cannot serve.
std::unique_ptr<Entrance> MakeEntrance(const wire::v1::OpenTunnel& req, EntranceContext ctx,
                                       Refusal* refusal);

}  // namespace reitunnel::server
