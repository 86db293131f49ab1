#include "server/session/udp_tunnel_shard.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/experimental/as_tuple.hpp"
#include "asio/use_awaitable.hpp"
#include "common/log/log.h"
#include "common/net/datagram_link.h"
#include "common/net/frame_io.h"
#include "common/net/listener.h"
#include "common/net/spawn.h"
#include "server/cluster_mode/cluster_node.h"
#include "server/hooks/hook_dispatcher.h"
#include "server/session/active_visitors.h"
#include "server/session/session_shard.h"
#include "server/session/visitor_events.h"

namespace reitunnel::server {

using asio::experimental::as_tuple;
using asio::ip::udp;
using asio::use_awaitable;

namespace {

std::string EndpointText(const udp::endpoint& ep) {
  return net::EndpointString(asio::ip::tcp::endpoint(ep.address(), ep.port()));
}

}  // namespace

UdpTunnelShard::UdpTunnelShard(int worker, std::shared_ptr<TunnelCore> core, udp::socket socket,
                               std::weak_ptr<SessionShard> shard, UdpFlowSettings settings,
                               HookDispatcher* hooks, ActiveVisitors* active)
    : worker_(worker),
      core_(std::move(core)),
      socket_(std::move(socket)),
      shard_(std::move(shard)),
      settings_(settings),
      hooks_(hooks),
      active_(active),
      sweep_(socket_.get_executor()) {}

void UdpTunnelShard::Start() {
  net::Spawn(socket_.get_executor(), ReceiveLoop(), "udp_receive");
  net::Spawn(socket_.get_executor(), SweepLoop(), "udp_sweep");
}

void UdpTunnelShard::Stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::error_code ec;
  socket_.close(ec);
  sweep_.cancel();
  std::vector<std::shared_ptr<Flow>> denied;
  for (auto& [_, f] : flows_) {
    f->ending = true;
    f->broken = true;
    f->wake.cancel();
    if (f->link) f->link->Close();
    if (f->denied) denied.push_back(f);
  }
  for (auto& f : denied) Forget(f);
}

void UdpTunnelShard::Forget(const std::shared_ptr<Flow>& flow) {
  flow->writer_done = true;
  flow->reader_done = true;
  MaybeFinish(flow);
}

asio::awaitable<void> UdpTunnelShard::ReceiveLoop() {
  auto self = shared_from_this();
  std::string buf(net::kMaxDatagram + 1, '\0');
  for (;;) {
    udp::endpoint from;
    auto [ec, n] = co_await socket_.async_receive_from(asio::buffer(buf), from,
                                                       as_tuple(use_awaitable));
    if (stopped_ || !socket_.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) continue;  // e.g. an ICMP error of an earlier reply
    // Empty datagrams are not carried (see datagram_link.h); a larger one
    // than IPv4 allows cannot arrive.
    if (n == 0 || n > net::kMaxDatagram) continue;
    Received(from, buf.data(), n);
  }
}

void UdpTunnelShard::Received(const udp::endpoint& from, const char* data, size_t n) {
  auto it = flows_.find(from);
  if (it == flows_.end() || it->second->ending) {
    if (it != flows_.end()) {
      // The flow is ending (idle or failed): the datagram starts a new one
      // once it is gone, so nothing is misrouted meanwhile.
      ++it->second->dropped;
      return;
    }
    if (settings_.cluster && !settings_.cluster->ServingAllowed(core_->info().remote_port)) {
      // Cut off from etcd: another agent may own this port by now.
      core_->slot(worker_).datagrams_dropped.Add(1);
      return;
    }
    if (!accepting_ || core_->Totals().active_visitors() >= settings_.max_flows_per_tunnel) {
      Refused();
      return;
    }
    auto flow = std::make_shared<Flow>(socket_.get_executor());
    flow->visitor = from;
    flow->peer = EndpointText(from);
    flow->id = absl::StrCat(core_->info().tunnel_id, "-u", worker_, ".", ++next_flow_);
    it = flows_.emplace(from, flow).first;
    core_->slot(worker_).visitors_opened.Add(1);
    active_->Inc();
    net::Spawn(socket_.get_executor(), RunFlow(flow), "udp_flow");
  }
  Flow& f = *it->second;
  f.last = std::chrono::steady_clock::now();
  if (f.queue.size() >= settings_.max_queued ||
      f.queued_bytes + n > settings_.max_queued_bytes) {
    ++f.dropped;
    return;
  }
  f.queue.emplace_back(data, n);
  f.queued_bytes += n;
  f.wake.cancel();
}

void UdpTunnelShard::Refused() {
  core_->slot(worker_).datagrams_dropped.Add(1);
  ++refused_;
  const auto now = std::chrono::steady_clock::now();
  if (refused_logged_ != std::chrono::steady_clock::time_point{} &&
      now - refused_logged_ < std::chrono::minutes(1)) {
    return;
  }
  log::Warn("udp_flow_refused", "UDP datagrams refused: tunnel draining or at its flow limit",
            {{"tunnel_id", core_->info().tunnel_id},
             {"limit", settings_.max_flows_per_tunnel},
             {"datagrams", refused_}});
  refused_ = 0;
  refused_logged_ = now;
}

asio::awaitable<void> UdpTunnelShard::SweepLoop() {
  auto self = shared_from_this();
  const auto period = std::max(std::chrono::milliseconds(50), settings_.idle_timeout / 4);
  while (!stopped_) {
    sweep_.expires_after(period);
    auto [ec] = co_await sweep_.async_wait(as_tuple(use_awaitable));
    if (ec || stopped_) co_return;
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<Flow>> expired_denials;
    for (auto& [_, f] : flows_) {
      if (now - f->last < settings_.idle_timeout) continue;
      if (f->denied) {
        expired_denials.push_back(f);
      } else if (!f->ending) {
        End(*f);
      }
    }
    for (auto& f : expired_denials) Forget(f);
  }
}

void UdpTunnelShard::End(Flow& flow) {
  flow.ending = true;
  flow.wake.cancel();
}

asio::awaitable<bool> UdpTunnelShard::Admit(const Flow& flow) {
  if (!hooks_ || !hooks_->Subscribed(HookEvent::kVisitorConnect)) co_return true;
  const auto& info = core_->info();
  HookDecision d = co_await hooks_->Decide(HookEvent::kVisitorConnect,
                                           VisitorConnectRequestFor(info, flow.peer, flow.id));
  if (!d.allowed()) {
    log::Info("visitor_denied", "UDP flow denied by policy",
              {{"tunnel_id", info.tunnel_id}, {"visitor", flow.peer}, {"reason", d.reason}});
  }
  co_return d.allowed();
}

asio::awaitable<void> UdpTunnelShard::RunFlow(std::shared_ptr<Flow> flow) {
  auto self = shared_from_this();
  const auto& info = core_->info();
  auto& tunnel = core_->slot(worker_).relay;
  try {
    flow->admitted = co_await Admit(*flow);
    if (!flow->admitted && !stopped_) {
      flow->denied = true;
      flow->ending = true;
      co_return;  // the sweep forgets it once idle
    }
    auto shard = shard_.lock();
    if (flow->admitted && shard && !flow->ending) {
      flow->link = co_await shard->AcquireLinkForFlow();
      if (!flow->link) {
        log::Warn("visitor_dropped", "no data connection from the agent in time",
                  {{"tunnel_id", info.tunnel_id}, {"visitor", flow->peer}});
      }
    }
    shard.reset();
    if (flow->link && !flow->ending) {
      wire::v1::Frame start;
      start.mutable_start_relay()->set_tunnel_id(info.tunnel_id);
      start.mutable_start_relay()->set_visitor_addr(flow->peer);
      start.mutable_start_relay()->set_public_addr(info.public_addr);
      co_await net::WriteFrame(*flow->link, start);
      flow->reader_started = true;
      net::Spawn(socket_.get_executor(), ReadFromAgent(flow), "udp_flow_reader");
      for (;;) {
        while (!flow->queue.empty()) {
          std::string d = std::move(flow->queue.front());
          flow->queue.pop_front();
          flow->queued_bytes -= d.size();
          co_await net::WriteDatagram(*flow->link, d);
          for (net::RelayCounters* c : {&flow->counters, &tunnel}) {
            c->plain_to_link.Add(d.size());
            c->plain_to_link_events.Add(1);
          }
        }
        if (flow->ending) break;
        flow->wake.expires_at(asio::steady_timer::time_point::max());
        (void)co_await flow->wake.async_wait(as_tuple(use_awaitable));
      }
      if (!flow->broken) co_await net::WriteDatagramEnd(*flow->link);
    } else {
      // No relay started: nothing to wait for, and an acquired link is
      // still idle and clean.
      flow->reader_done = true;
    }
  } catch (const std::exception& e) {
    log::Debug("udp_flow_error", "UDP flow ended with an error",
               {{"tunnel_id", info.tunnel_id}, {"error", e.what()}});
    flow->broken = true;
    if (flow->link) flow->link->Close();
    // Failed before the reader started (e.g. the StartRelay write): nobody
    // else will mark that direction done.
    if (!flow->reader_started) flow->reader_done = true;
  }
  flow->ending = true;
  flow->writer_done = true;
  MaybeFinish(flow);
}

asio::awaitable<void> UdpTunnelShard::ReadFromAgent(std::shared_ptr<Flow> flow) {
  auto self = shared_from_this();
  auto& tunnel = core_->slot(worker_).relay;
  try {
    for (;;) {
      bool reset = false;
      std::optional<std::string> d = co_await net::ReadDatagram(*flow->link, &reset);
      if (!d) break;  // the agent ended its direction (after ours, or it failed)
      flow->last = std::chrono::steady_clock::now();
      asio::error_code ec;
      socket_.send_to(asio::buffer(*d), flow->visitor, 0, ec);
      if (ec) {
        ++flow->dropped;  // a full socket buffer, or the visitor is unreachable
        continue;
      }
      for (net::RelayCounters* c : {&flow->counters, &tunnel}) {
        c->link_to_plain.Add(d->size());
        c->link_to_plain_events.Add(1);
      }
    }
  } catch (const std::exception& e) {
    log::Debug("udp_flow_error", "UDP flow link failed", {{"error", e.what()}});
    flow->broken = true;
    flow->link->Close();
  }
  flow->reader_done = true;
  End(*flow);  // if the agent ended first, ours follows
  MaybeFinish(flow);
}

void UdpTunnelShard::MaybeFinish(const std::shared_ptr<Flow>& flow) {
  if (!flow->writer_done || !flow->reader_done) return;
  auto it = flows_.find(flow->visitor);
  if (it != flows_.end() && it->second == flow) flows_.erase(it);
  // Still queued: never reached the agent (no link in time, vetoed, stopped).
  flow->dropped += flow->queue.size();
  flow->queue.clear();
  flow->queued_bytes = 0;
  if (flow->link) {
    auto shard = shard_.lock();
    if (!flow->broken && !stopped_ && shard && flow->link->is_open() &&
        !flow->link->has_buffered_input()) {
      shard->ReturnLink(std::move(flow->link));
    } else {
      flow->link->Close();
    }
  }
  core_->slot(worker_).visitors_closed.Add(1);
  active_->Dec();
  const auto& info = core_->info();
  if (flow->dropped > 0) {
    log::Info("udp_flow_drops", "UDP flow dropped datagrams",
              {{"tunnel_id", info.tunnel_id}, {"visitor", flow->peer}, {"dropped", flow->dropped}});
  }
  core_->slot(worker_).datagrams_dropped.Add(flow->dropped);
  if (!flow->admitted || !hooks_ || !hooks_->Subscribed(HookEvent::kVisitorDisconnect)) return;
  hook::v1::VisitorDisconnectRequest req =
      VisitorDisconnectRequestFor(info, flow->peer, flow->id, flow->counters, flow->started);
  (*req.mutable_metadata())["datagrams_received"] =
      absl::StrCat(flow->counters.plain_to_link_events.Get());
  (*req.mutable_metadata())["datagrams_sent"] =
      absl::StrCat(flow->counters.link_to_plain_events.Get());
  (*req.mutable_metadata())["datagrams_dropped"] = absl::StrCat(flow->dropped);
  hooks_->Notify(HookEvent::kVisitorDisconnect, std::move(req));
}

}  // namespace reitunnel::server
