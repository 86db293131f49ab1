#include "server/dashboard/server_source.h"

#include <chrono>

#include "common/proto_util/time.h"
#include "server/hooks/hook_dispatcher.h"
#include "server/server.h"
#include "server/session/tunnel_core.h"

namespace reitunnel::server::dashboard {

namespace dv1 = reitunnel::dashboard::v1;

dv1::Overview ServerSource::Overview() {
  dv1::Overview out;
  FillServerInfo(server_, addresses_, out.mutable_server());
  std::vector<SessionRegistry::SessionView> views = server_.registry().Snapshot();
  for (const auto& v : views) {
    if (out.clients_size() >= kMaxListed) break;
    FillClient(v, out.add_clients());
  }
  std::vector<admin::v1::Tunnel> tunnels = CollectTunnels(views, /*include_not_open=*/true);
  std::map<std::string, TunnelRateValue> rates = history_->Rates();
  for (auto& t : tunnels) {
    if (out.tunnels_size() >= kMaxListed) break;
    if (!t.tunnel_id().empty()) {
      auto* r = out.add_rates();
      r->set_tunnel_id(t.tunnel_id());
      if (auto it = rates.find(t.tunnel_id()); it != rates.end()) {
        r->set_in_bytes_per_second(it->second.in_bps);
        r->set_out_bytes_per_second(it->second.out_bps);
      }
    }
    *out.add_tunnels() = std::move(t);
  }
  for (const auto& v : views) {
    for (const auto& t : v.tunnels) {
      const TunnelInfo& info = t->info();
      auto* x = out.add_tunnel_extras();
      x->set_tunnel_id(info.tunnel_id);
      x->set_public_addr(info.public_addr);
      if (auto it = info.metadata.find("hostname"); it != info.metadata.end()) {
        x->set_hostname(it->second);
      }
      if (out.tunnel_extras_size() >= kMaxListed) break;
    }
    if (out.tunnel_extras_size() >= kMaxListed) break;
  }
  if (HookDispatcher* hooks = server_.hooks()) FillHooks(*hooks, out.mutable_hooks());
  admin::v1::ListBansResponse bans;
  FillBans(server_.bans(), &bans);
  for (auto& b : *bans.mutable_bans()) *out.add_bans() = std::move(b);
  for (const TrafficPoint& p : history_->Points()) {
    auto* s = out.add_traffic();
    *s->mutable_time() = ToTimestamp(p.time);
    s->set_bytes_in(p.totals.bytes_in);
    s->set_bytes_out(p.totals.bytes_out);
    s->set_in_bytes_per_second(p.in_bps);
    s->set_out_bytes_per_second(p.out_bps);
    s->set_active_visitors(p.totals.active_visitors);
    s->set_clients(p.totals.clients);
    s->set_tunnels(p.totals.tunnels);
  }
  out.set_sample_period_ms(sample_period_ms_);
  return out;
}

dv1::EventsResponse ServerSource::Events(uint64_t after) { return events_->After(after); }

void ServerSource::OnViewer() {
  if (recorder_) recorder_->Touch(std::chrono::steady_clock::now());
}

TrafficCounters ServerSource::ReadCounters(Server& server) {
  TrafficCounters c;
  TunnelTotals closed = server.registry().closed_totals();
  c.bytes_in = closed.bytes_in;
  c.bytes_out = closed.bytes_out;
  for (const auto& v : server.registry().Snapshot()) {
    ++c.clients;
    for (const auto& t : v.tunnels) {
      ++c.tunnels;
      TunnelTotals totals = t->Totals();
      c.bytes_in += totals.bytes_in;
      c.bytes_out += totals.bytes_out;
      c.active_visitors += totals.active_visitors();
      c.per_tunnel.push_back({t->info().tunnel_id, totals.bytes_in, totals.bytes_out});
    }
  }
  return c;
}

}  // namespace reitunnel::server::dashboard
