#include "server/session/session_shard.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "asio/experimental/as_tuple.hpp"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "asio/use_awaitable.hpp"
#include "common/log/log.h"
#include "common/net/frame_io.h"
#include "common/net/framed_relay.h"
#include "common/net/listener.h"
#include "common/net/spawn.h"
#include "server/cluster_mode/cluster_node.h"
#include "server/hooks/hook_dispatcher.h"
#include "server/session/active_visitors.h"
#include "server/session/visitor_events.h"

namespace reitunnel::server {

SessionShard::SessionShard(int worker, asio::any_io_executor ex, ShardSettings settings,
                           HookDispatcher* hooks, ActiveVisitors* active,
                           std::function<void(uint32_t)> request_links)
    : worker_(worker),
      ex_(ex),
      settings_(std::move(settings)),
      hooks_(hooks),
      active_(active),
      request_links_(std::move(request_links)),
      pool_(std::make_shared<DataPool>(ex)) {}

void SessionShard::SetSiblings(std::vector<std::weak_ptr<SessionShard>> siblings) {
  siblings_ = std::move(siblings);
}

void SessionShard::AddLink(Link link) {
  if (closed_) {
    link->Close();
    return;
  }
  if (pool_->waiting() == 0) {
    // Nobody here needs it: a sibling whose visitors wait gets it instead
    // of waiting for the agent's next connection.
    for (auto& weak : siblings_) {
      auto s = weak.lock();
      if (!s || s.get() == this || s->waiting_visitors() == 0) continue;
      if (settings_.links_movable) {
        HandOver(std::move(link), s);
        return;
      }
      // Only a visitor can go to the link; a waiting UDP flow cannot.
      if (s->waiting_movable_visitors() == 0) continue;
      pool_->Add(std::move(link));
      asio::post(s->executor(), [s, here = worker_] { s->pool_->RedirectOneWaiter(here); });
      return;
    }
  }
  pool_->Add(std::move(link));
}

void SessionShard::HandOver(Link link, const std::shared_ptr<SessionShard>& to) {
  auto* conn = dynamic_cast<net::Conn*>(link->inner().get());
  if (!conn || link->has_buffered_input()) {
    pool_->Add(std::move(link));
    return;
  }
  std::shared_ptr<net::Conn> moved;
  try {
    moved = conn->MoveTo(to->executor());
  } catch (const std::system_error&) {
    link->Close();
    return;
  }
  auto moved_link = std::make_shared<net::BufferedStream>(std::move(moved));
  asio::post(to->executor(), [to, moved_link]() mutable { to->AddLink(std::move(moved_link)); });
}

void SessionShard::GiveLinkTo(const std::shared_ptr<SessionShard>& to) {
  if (Link link = pool_->TakeIdle()) HandOver(std::move(link), to);
}

asio::awaitable<Link> SessionShard::AcquireLink(bool moved_in,
                                                std::shared_ptr<SessionShard>* move_to,
                                                std::chrono::milliseconds timeout) {
  if (pool_->idle() == 0) {
    // Ask a sibling with idle links to hand one over (or go to it, when
    // links cannot move), and the agent for more (whichever arrives first
    // serves this visitor; the other idles).
    auto self = shared_from_this();
    for (auto& weak : siblings_) {
      auto s = weak.lock();
      if (!s || s.get() == this || s->idle_links() == 0) continue;
      if (!settings_.links_movable) {
        // No ping-pong on idle counts that changed meanwhile.
        if (moved_in || !move_to) continue;
        *move_to = s;
        co_return nullptr;
      }
      asio::post(s->executor(), [s, self] { s->GiveLinkTo(self); });
      break;
    }
    request_links_(1);
  }
  int redirected_to = -1;
  if (timeout.count() <= 0) timeout = settings_.data_connection_timeout;
  Link link = co_await pool_->Acquire(timeout, move_to ? &redirected_to : nullptr);
  if (!link && move_to && redirected_to >= 0 &&
      static_cast<size_t>(redirected_to) < siblings_.size()) {
    *move_to = siblings_[static_cast<size_t>(redirected_to)].lock();
  }
  co_return link;
}

bool SessionShard::MoveVisitor(const std::shared_ptr<TunnelShard>& t,
                               const std::shared_ptr<Visitor>& v,
                               const std::shared_ptr<SessionShard>& to) {
  std::shared_ptr<net::Conn> moved;
  try {
    moved = v->conn->MoveTo(to->executor());
  } catch (const std::system_error&) {
    return false;
  }
  auto traveller = std::make_shared<Visitor>();
  traveller->id = v->id;
  traveller->forward = std::move(v->forward);
  traveller->conn = std::move(moved);
  traveller->started = v->started;
  traveller->moved_in = true;
  t->visitors.erase(v);
  asio::post(to->executor(), [to, core = t->core, traveller]() mutable {
    to->AdoptVisitor(std::move(core), std::move(traveller));
  });
  return true;
}

void SessionShard::AdoptVisitor(std::shared_ptr<TunnelCore> core, std::shared_ptr<Visitor> v) {
  auto it = tunnels_.find(core->info().tunnel_id);
  if (closed_ || it == tunnels_.end()) {
    // The tunnel ended while the visitor travelled.
    v->conn->Close();
    core->slot(worker_).visitors_closed.Add(1);
    active_->Dec();
    NotifyVisitorClosed(*core, *v);
    return;
  }
  it->second->visitors.insert(v);
  net::Spawn(ex_, Serve(it->second, std::move(v)), "visitor");
}

void SessionShard::StartTunnel(std::shared_ptr<TunnelCore> core, asio::ip::tcp::acceptor acceptor) {
  if (closed_) return;
  auto t = std::make_shared<TunnelShard>(TunnelShard{std::move(core), std::move(acceptor), {}, 0});
  tunnels_[t->core->info().tunnel_id] = t;
  net::Spawn(ex_, AcceptLoop(t), "tunnel_accept");
}

void SessionShard::StartRoutedTunnel(std::shared_ptr<TunnelCore> core) {
  if (closed_) return;
  auto t = std::make_shared<TunnelShard>(
      TunnelShard{std::move(core), asio::ip::tcp::acceptor(ex_), {}, 0});
  tunnels_[t->core->info().tunnel_id] = t;
}

bool SessionShard::AtLimit(const TunnelShard& t) const {
  if (t.core->Totals().active_visitors() < settings_.max_visitors_per_tunnel) return false;
  log::Warn("visitor_rejected", "tunnel is at its visitor limit",
            {{"tunnel_id", t.core->info().tunnel_id},
             {"limit", settings_.max_visitors_per_tunnel}});
  return true;
}

void SessionShard::StartVisitor(const std::shared_ptr<TunnelShard>& t,
                                std::shared_ptr<net::Conn> conn, std::string forward) {
  auto v = std::make_shared<Visitor>();
  v->id = absl::StrCat(t->core->info().tunnel_id, "-", worker_, ".", ++t->next_visitor);
  v->conn = std::move(conn);
  v->forward = std::move(forward);
  t->visitors.insert(v);
  t->core->slot(worker_).visitors_opened.Add(1);
  active_->Inc();
  net::Spawn(ex_, Serve(t, v), "visitor");
}

bool SessionShard::ServeRouted(const std::shared_ptr<TunnelCore>& core,
                               std::shared_ptr<net::Conn> conn, std::string forward) {
  auto it = tunnels_.find(core->info().tunnel_id);
  if (closed_ || it == tunnels_.end() || !it->second->accepting || AtLimit(*it->second)) {
    return false;
  }
  StartVisitor(it->second, std::move(conn), std::move(forward));
  return true;
}

void SessionShard::StartUdpTunnel(std::shared_ptr<TunnelCore> core, asio::ip::udp::socket socket,
                                  const UdpFlowSettings& settings) {
  if (closed_) return;
  const std::string id = core->info().tunnel_id;
  auto t = std::make_shared<UdpTunnelShard>(worker_, std::move(core), std::move(socket),
                                            weak_from_this(), settings, hooks_, active_);
  udp_tunnels_[id] = t;
  t->Start();
}

asio::awaitable<Link> SessionShard::AcquireLinkForFlow() {
  // A flow belongs to the socket that received it, so it never moves; it
  // waits for a link here (a sibling's idle one is handed over when links
  // can move). Links that cannot move reach this worker only where the
  // kernel spreads the agent's connections, so ask for another one every
  // slice of the wait instead of once.
  auto self = shared_from_this();
  const auto deadline = std::chrono::steady_clock::now() + settings_.data_connection_timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || closed_) co_return nullptr;
    const auto slice = settings_.links_movable
                           ? left
                           : std::min(left, std::chrono::milliseconds(250));
    Link link = co_await AcquireLink(/*moved_in=*/true, nullptr, slice);
    if (link) co_return link;
  }
}

void SessionShard::StopAccepting(const std::string& tunnel_id) {
  if (auto u = udp_tunnels_.find(tunnel_id); u != udp_tunnels_.end()) u->second->StopAccepting();
  auto it = tunnels_.find(tunnel_id);
  if (it == tunnels_.end()) return;
  it->second->accepting = false;
  asio::error_code ec;
  it->second->acceptor.close(ec);
}

void SessionShard::StopAcceptingAll() {
  for (auto& [id, _] : tunnels_) StopAccepting(id);
  for (auto& [_, u] : udp_tunnels_) u->StopAccepting();
}

void SessionShard::StopTunnel(const std::string& tunnel_id) {
  if (auto u = udp_tunnels_.find(tunnel_id); u != udp_tunnels_.end()) {
    u->second->Stop();
    udp_tunnels_.erase(u);
  }
  auto it = tunnels_.find(tunnel_id);
  if (it == tunnels_.end()) return;
  auto t = it->second;
  tunnels_.erase(it);
  asio::error_code ec;
  t->acceptor.close(ec);
  for (auto& v : t->visitors) {
    v->conn->Close();
    if (v->link) v->link->Close();
  }
}

void SessionShard::Close() {
  if (closed_) return;
  closed_ = true;
  std::vector<std::string> ids;
  for (auto& [id, _] : tunnels_) ids.push_back(id);
  for (auto& [id, _] : udp_tunnels_) ids.push_back(id);
  for (auto& id : ids) StopTunnel(id);
  pool_->Close();
}

asio::awaitable<void> SessionShard::AcceptLoop(std::shared_ptr<TunnelShard> t) {
  auto self = shared_from_this();
  asio::error_code ec;
  const auto protocol = t->acceptor.local_endpoint(ec).protocol();
  if (ec) co_return;
  // Named, not a temporary in the co_await expression (GCC 12 bug).
  const net::AcceptedFn accepted = [this, t](asio::ip::tcp::socket socket,
                                                     std::string peer) {
    if (settings_.cluster && !settings_.cluster->ServingAllowed(t->core->info().remote_port)) {
      // Cut off from etcd longer than the lease allows: another agent may
      // own this port elsewhere by now, so nobody is served here.
      log::Debug("visitor_rejected", "port not served: cluster claim unconfirmed",
                 {{"tunnel_id", t->core->info().tunnel_id}});
      return;
    }
    if (AtLimit(*t)) return;  // the socket closes as it goes out of scope
    StartVisitor(t, std::make_shared<net::Conn>(std::move(socket), std::move(peer)), {});
  };
  for (;;) {
    ec = co_await net::AcceptBatch(t->acceptor, protocol, accepted);
    if (!t->acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // EMFILE and friends: keep serving the visitors we have.
      log::Warn("visitor_accept_failed", "accepting a visitor failed",
                {{"tunnel_id", t->core->info().tunnel_id}, {"error", ec.message()}});
      asio::steady_timer backoff(ex_, std::chrono::milliseconds(50));
      co_await backoff.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
  }
}

asio::awaitable<bool> SessionShard::Admit(const TunnelShard& t, const Visitor& v) {
  if (!hooks_ || !hooks_->Subscribed(HookEvent::kVisitorConnect)) co_return true;
  const auto& info = t.core->info();
  HookDecision d = co_await hooks_->Decide(HookEvent::kVisitorConnect,
                                           VisitorConnectRequestFor(info, v.conn->peer(), v.id));
  if (!d.allowed()) {
    log::Info("visitor_denied", "visitor denied by policy",
              {{"tunnel_id", info.tunnel_id}, {"visitor", v.conn->peer()}, {"reason", d.reason}});
  }
  co_return d.allowed();
}

void SessionShard::NotifyVisitorClosed(const TunnelCore& core, const Visitor& v) {
  if (!hooks_ || !hooks_->Subscribed(HookEvent::kVisitorDisconnect)) return;
  hooks_->Notify(HookEvent::kVisitorDisconnect,
                 VisitorDisconnectRequestFor(core.info(), v.conn->peer(), v.id, v.counters,
                                             v.started));
}

asio::awaitable<void> SessionShard::SendForward(Visitor& v, net::RelayCounters& tunnel_counters) {
  std::string bytes;
  if (settings_.framed) {
    // One chunk of the framed relay's visitor-to-agent direction.
    const uint32_t n = static_cast<uint32_t>(v.forward.size());
    const char header[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                            static_cast<char>(n >> 8), static_cast<char>(n)};
    bytes.assign(header, sizeof(header));
  }
  bytes += v.forward;
  const asio::const_buffer buf = asio::buffer(bytes);
  co_await v.link->WriteAll(buf);
  for (net::RelayCounters* c : {&v.counters, &tunnel_counters}) {
    c->plain_to_link.Add(v.forward.size());
    c->plain_to_link_events.Add(1);
  }
  v.forward.clear();
  v.forward.shrink_to_fit();
}

asio::awaitable<void> SessionShard::Serve(std::shared_ptr<TunnelShard> t,
                                          std::shared_ptr<Visitor> v) {
  auto self = shared_from_this();
  const auto& info = t->core->info();
  bool admitted = v->moved_in;
  try {
    if (!admitted) admitted = co_await Admit(*t, *v);
    if (admitted && v->conn->is_open()) {
      std::shared_ptr<SessionShard> move_to;
      v->link = co_await AcquireLink(v->moved_in, &move_to);
      if (!v->link && move_to && v->conn->is_open() && MoveVisitor(t, v, move_to)) {
        co_return;  // served by `move_to` from now on
      }
      if (!v->link) {
        log::Warn("visitor_dropped", "no data connection from the agent in time",
                  {{"tunnel_id", info.tunnel_id}, {"visitor", v->conn->peer()}});
        if (hooks_) {
          hook::v1::ErrorEvent err;
          err.set_component("relay");
          err.set_message("no data connection from the agent in time; visitor dropped");
          err.set_client_id(info.client_id);
          err.set_tunnel_id(info.tunnel_id);
          hooks_->Notify(HookEvent::kError, std::move(err));
        }
      } else if (v->conn->is_open()) {
        wire::v1::Frame start;
        start.mutable_start_relay()->set_tunnel_id(info.tunnel_id);
        start.mutable_start_relay()->set_visitor_addr(v->conn->peer());
        start.mutable_start_relay()->set_public_addr(info.public_addr);
        co_await net::WriteFrame(*v->link, start);
        if (!v->forward.empty()) co_await SendForward(*v, t->core->slot(worker_).relay);
        net::RelaySinks sinks{&v->counters, &t->core->slot(worker_).relay};
        if (settings_.framed) {
          auto state = co_await net::FramedRelay(*v->conn, *v->link, sinks);
          // Back to the pool for the next visitor: no new TCP or auth
          // handshake. Anything buffered after the agent's terminator would
          // be a protocol violation.
          if (state == net::LinkState::kReusable && !v->link->has_buffered_input() &&
              v->link->is_open() && !closed_ && tunnels_.count(info.tunnel_id)) {
            Link link = std::move(v->link);
            AddLink(std::move(link));
          }
        } else {
          auto* data = dynamic_cast<net::Conn*>(v->link->inner().get());
          if (data) co_await net::Relay(*v->conn, *data, sinks);
        }
      }
    }
  } catch (const std::exception& e) {
    log::Debug("visitor_error", "visitor relay ended with an error",
               {{"tunnel_id", info.tunnel_id}, {"error", e.what()}});
  }
  v->conn->Close();
  if (v->link) v->link->Close();
  t->visitors.erase(v);
  t->core->slot(worker_).visitors_closed.Add(1);
  active_->Dec();
  if (admitted) NotifyVisitorClosed(*t->core, *v);
}

}  // namespace reitunnel::server
