#pragma once

// One worker's part of an agent session: the idle data connections that
// landed on this worker, this worker's listener of each of the agent's
// tunnels (the public port is a SO_REUSEPORT group, one socket per worker),
// and the visitors accepted here with their relays. Everything here runs on
// the shard's worker; other threads only post to it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/ip/udp.hpp"
#include "common/net/conn.h"
#include "server/session/data_pool.h"
#include "server/session/tunnel_core.h"
#include "server/session/udp_tunnel_shard.h"

namespace reitunnel::server {

class HookDispatcher;
class ActiveVisitors;
class ClusterNode;

struct ShardSettings {
  std::string client_id;
  // Links relay many visitors in turn ("framed_relay" agreed with the agent).
  bool framed = false;
  // Links are plain or TLS TCP connections whose fd can move to another
  // worker. WebSocket links keep user-space framing state bound to their
  // worker: a visitor moves to the worker with an idle link instead.
  bool links_movable = true;
  std::chrono::milliseconds data_connection_timeout{10000};
  uint32_t max_visitors_per_tunnel = 10000;
  // Cluster mode: visitors are served only while the port's cluster claim
  // is surely held (see ClusterNode::ServingAllowed).
  const ClusterNode* cluster = nullptr;
};

class SessionShard : public std::enable_shared_from_this<SessionShard> {
 public:
  // `request_links(n)` asks the agent for n more data connections; it is
  // thread-safe (it posts to the session's home worker).
  SessionShard(int worker, asio::any_io_executor ex, ShardSettings settings,
               HookDispatcher* hooks, ActiveVisitors* active,
               std::function<void(uint32_t)> request_links);

  int worker() const { return worker_; }
  const asio::any_io_executor& executor() const { return ex_; }
  // The other shards of the session, to balance links with. Set once, before
  // any link arrives.
  void SetSiblings(std::vector<std::weak_ptr<SessionShard>> siblings);

  // On this shard's worker:
  // A new or returning link. Goes to a waiting visitor here, else to a
  // sibling with waiting visitors (the fd is handed over; or, for links
  // that cannot move, it idles here and one of the sibling's visitors comes
  // over), else idles here.
  void AddLink(Link link);
  // Starts relaying visitors of `core` accepted by `acceptor` (this
  // worker's socket of the tunnel's listener group).
  void StartTunnel(std::shared_ptr<TunnelCore> core, asio::ip::tcp::acceptor acceptor);
  // A routed tunnel (http, tls): no listener of its own; the shared vhost
  // listener on this worker hands its visitors over (ServeRouted).
  void StartRoutedTunnel(std::shared_ptr<TunnelCore> core);
  // A visitor of a routed tunnel, with the bytes already read from it
  // (forwarded before the rest). False when the tunnel does not take it here
  // (stopped, draining, at its visitor limit); the caller answers and closes.
  bool ServeRouted(const std::shared_ptr<TunnelCore>& core, std::shared_ptr<net::Conn> conn,
                   std::string forward);
  // A UDP tunnel: this worker's socket of the port's group.
  void StartUdpTunnel(std::shared_ptr<TunnelCore> core, asio::ip::udp::socket socket,
                      const UdpFlowSettings& settings);
  // For UDP flows: a link (null on timeout or close), and one back.
  asio::awaitable<Link> AcquireLinkForFlow();
  void ReturnLink(Link link) { AddLink(std::move(link)); }
  // Stops accepting for the tunnel (drain), keeping its visitors.
  void StopAccepting(const std::string& tunnel_id);
  void StopAcceptingAll();
  // Stops accepting and aborts the tunnel's visitors. Afterwards no byte of
  // it moves on this worker, so its slot counters are final.
  void StopTunnel(const std::string& tunnel_id);
  // Retires up to n idle links; returns how many.
  size_t RetireLinks(size_t n) { return pool_->Retire(n); }
  // Everything ends: tunnels stopped, idle links closed, waiters failed.
  void Close();

  // Any thread:
  int idle_links() const { return pool_->idle(); }
  int waiting_visitors() const { return pool_->waiting(); }
  int waiting_movable_visitors() const { return pool_->waiting_movable(); }

 private:
  struct Visitor {
    std::string id;
    std::shared_ptr<net::Conn> conn;
    Link link;
    // Read by a routed listener; sent to the agent ahead of the relay.
    std::string forward;
    net::RelayCounters counters;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    // Admitted on a sibling and moved here to meet an idle link: it is not
    // admitted again.
    bool moved_in = false;
  };
  struct TunnelShard {
    std::shared_ptr<TunnelCore> core;
    asio::ip::tcp::acceptor acceptor;
    std::set<std::shared_ptr<Visitor>> visitors;
    uint64_t next_visitor = 0;
    bool accepting = true;  // false once draining (routed tunnels have no acceptor to close)
  };
  // A new visitor of `t` accepted on this worker, admitted and served.
  void StartVisitor(const std::shared_ptr<TunnelShard>& t, std::shared_ptr<net::Conn> conn,
                    std::string forward);
  bool AtLimit(const TunnelShard& t) const;
  // Sends v->forward (a routed visitor's first bytes) over the link.
  asio::awaitable<void> SendForward(Visitor& v, net::RelayCounters& tunnel_counters);

  asio::awaitable<void> AcceptLoop(std::shared_ptr<TunnelShard> t);
  asio::awaitable<void> Serve(std::shared_ptr<TunnelShard> t, std::shared_ptr<Visitor> v);
  asio::awaitable<bool> Admit(const TunnelShard& t, const Visitor& v);
  // A link for a visitor, or null: on timeout, or with *move_to set when the
  // visitor should move to that sibling, which has an idle link that cannot
  // come here. A visitor that moved here already (`moved_in`) only moves
  // again when a sibling wakes it for a link it got. Without `move_to` the
  // waiter cannot move (a UDP flow) and only waits, for at most `timeout`
  // (default: the data connection timeout).
  asio::awaitable<Link> AcquireLink(bool moved_in, std::shared_ptr<SessionShard>* move_to,
                                    std::chrono::milliseconds timeout = {});
  void NotifyVisitorClosed(const TunnelCore& core, const Visitor& v);
  // Moves a waiting visitor's connection to `to`; false if it cannot move.
  bool MoveVisitor(const std::shared_ptr<TunnelShard>& t, const std::shared_ptr<Visitor>& v,
                   const std::shared_ptr<SessionShard>& to);
  // On this shard's worker: serves a visitor a sibling moved here.
  void AdoptVisitor(std::shared_ptr<TunnelCore> core, std::shared_ptr<Visitor> v);
  // Moves one idle link of this shard to `to` (a sibling asked for it).
  void GiveLinkTo(const std::shared_ptr<SessionShard>& to);
  void HandOver(Link link, const std::shared_ptr<SessionShard>& to);

  int worker_;
  asio::any_io_executor ex_;
  ShardSettings settings_;
  HookDispatcher* hooks_;
  ActiveVisitors* active_;
  std::function<void(uint32_t)> request_links_;
  std::shared_ptr<DataPool> pool_;
  std::vector<std::weak_ptr<SessionShard>> siblings_;
  std::map<std::string, std::shared_ptr<TunnelShard>> tunnels_;
  std::map<std::string, std::shared_ptr<UdpTunnelShard>> udp_tunnels_;
  bool closed_ = false;
};

}  // namespace reitunnel::server
