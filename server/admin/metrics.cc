#include "server/admin/metrics.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "common/config/parse.h"
#include "common/version.h"
#include "prometheus/metric_family.h"
#include "common/net/listener.h"
#include "common/runtime/worker_pool.h"
#include "server/hooks/hook_dispatcher.h"
#include "server/registry/agent_info.h"
#include "server/server.h"
#include "server/session/tunnel_core.h"

namespace reitunnel::server {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

struct DataPlaneSnapshot {
  double agents = 0;
  double tunnels = 0;
  double visitors = 0;
  double bytes_in = 0;
  double bytes_out = 0;
  double datagrams_dropped = 0;
  bool draining = false;
};

// metrics_options.max_series when unset (server.proto documents it).
constexpr size_t kDefaultMaxTunnelSeries = 500;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric Value(MetricType type, double v, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  return m;
}

}  // namespace

std::vector<MetricFamily> MetricsCollector::Collect() const {
  // Everything is read from the registry and atomics: a scrape never waits
  // for the data plane and the data plane never waits for a scrape.
  DataPlaneSnapshot s;
  const bool per_tunnel = server_.config().metrics_options().per_tunnel_labels();
  std::vector<TunnelSample> samples;
  auto closed = server_.registry().closed_totals();
  s.bytes_in = static_cast<double>(closed.bytes_in);
  s.bytes_out = static_cast<double>(closed.bytes_out);
  s.datagrams_dropped = static_cast<double>(closed.datagrams_dropped);
  s.draining = server_.draining();
  for (const auto& v : server_.registry().Snapshot()) {
    s.agents += 1;
    const std::string identity = per_tunnel ? AgentIdentity(v.entry->info) : std::string();
    for (const auto& t : v.tunnels) {
      TunnelTotals totals = t->Totals();
      s.tunnels += 1;
      s.visitors += static_cast<double>(totals.active_visitors());
      s.bytes_in += static_cast<double>(totals.bytes_in);
      s.bytes_out += static_cast<double>(totals.bytes_out);
      s.datagrams_dropped += static_cast<double>(totals.datagrams_dropped);
      if (per_tunnel) {
        const TunnelInfo& info = t->info();
        samples.push_back({info.tunnel_id, info.name, identity, info.opened_at, totals.bytes_in,
                           totals.bytes_out, totals.active_visitors()});
      }
    }
  }

  std::vector<MetricFamily> out;
  auto info = Family("reitunnel_build_info", "Build information.", MetricType::Gauge);
  info.metric.push_back(Value(MetricType::Gauge, 1, {{"version", kVersion}}));
  out.push_back(std::move(info));
  auto gauge = [&](const char* name, const char* help, double v) {
    auto f = Family(name, help, MetricType::Gauge);
    f.metric.push_back(Value(MetricType::Gauge, v));
    out.push_back(std::move(f));
  };
  auto counter = [&](const char* name, const char* help, double v) {
    auto f = Family(name, help, MetricType::Counter);
    f.metric.push_back(Value(MetricType::Counter, v));
    out.push_back(std::move(f));
  };
  gauge("reitunnel_agents", "Connected agents.", s.agents);
  gauge("reitunnel_tunnels", "Open tunnels.", s.tunnels);
  gauge("reitunnel_visitor_connections", "Active visitor connections.", s.visitors);
  gauge("reitunnel_draining", "1 while the server drains for shutdown.", s.draining ? 1 : 0);
  gauge("reitunnel_workers", "Data-plane worker threads.", server_.workers().size());
  gauge("reitunnel_data_plane_healthy",
        "1 while every worker runs its event loop within the watchdog bound.",
        server_.data_plane_healthy() ? 1 : 0);
  gauge("reitunnel_public_ports_in_use", "Public ports held by tunnels.",
        static_cast<double>(server_.ports().reserved()));
  gauge("reitunnel_public_ports_capacity", "Public ports in the configured range.",
        static_cast<double>(server_.ports().capacity()));
  gauge("reitunnel_bans", "Active operator bans.", static_cast<double>(server_.bans().List().size()));
  counter("reitunnel_auth_failures_total", "Failed agent authentications.",
          static_cast<double>(server_.throttle().failures()));
  counter("reitunnel_auth_throttled_total",
          "Connections refused because their address failed to authenticate too often.",
          static_cast<double>(server_.throttle().refused()));
  counter("reitunnel_connections_rejected_total",
          "Agent-port connections rejected (limits, throttling, failed handshakes).",
          static_cast<double>(server_.rejects().total()));
  counter("reitunnel_udp_datagrams_dropped_total",
          "UDP tunnel datagrams dropped (flow queue or socket buffer full, flow ending); "
          "counted when their flow ends.",
          s.datagrams_dropped);
  auto bytes = Family("reitunnel_bytes_total",
                      "Bytes relayed; direction in = from visitors, out = to visitors.",
                      MetricType::Counter);
  bytes.metric.push_back(Value(MetricType::Counter, s.bytes_in, {{"direction", "in"}}));
  bytes.metric.push_back(Value(MetricType::Counter, s.bytes_out, {{"direction", "out"}}));
  out.push_back(std::move(bytes));
  if (per_tunnel) CollectPerTunnel(samples, &out);

  HookDispatcher* hooks = server_.hooks();
  if (!hooks || hooks->empty()) return out;
  auto calls = Family("reitunnel_hook_calls_total",
                      "Blocking hook calls by hook, event and decision.", MetricType::Counter);
  auto errors = Family("reitunnel_hook_errors_total", "Failed blocking hook calls.",
                       MetricType::Counter);
  auto timeouts = Family("reitunnel_hook_timeouts_total", "Blocking hook calls that timed out.",
                         MetricType::Counter);
  auto fail_open = Family("reitunnel_hook_fail_open_allowances_total",
                          "Operations allowed because a fail_open hook failed.",
                          MetricType::Counter);
  auto latency = Family("reitunnel_hook_latency_seconds", "Blocking hook call latency.",
                        MetricType::Histogram);
  auto sent = Family("reitunnel_hook_batches_sent_total", "Data batches delivered.",
                     MetricType::Counter);
  auto dropped_batches = Family("reitunnel_hook_batches_dropped_total",
                                "Data batches dropped (queue full or undeliverable).",
                                MetricType::Counter);
  auto notifications = Family("reitunnel_hook_notifications_sent_total",
                              "Notifications delivered.", MetricType::Counter);
  auto dropped_events = Family("reitunnel_hook_events_dropped_total",
                               "Notifications dropped (queue full or undeliverable).",
                               MetricType::Counter);
  auto depth = Family("reitunnel_hook_queue_depth", "Notifications and batches waiting.",
                      MetricType::Gauge);
  static const char* kDecisions[] = {"allow", "deny", "error"};
  for (const auto& v : hooks->Hooks()) {
    const HookStats& st = *v.stats;
    const std::string& name = v.config->name();
    for (int e = 0; e < kHookEventCount; ++e) {
      if (!IsBlocking(static_cast<HookEvent>(e))) continue;
      for (int d = 0; d < 3; ++d) {
        calls.metric.push_back(Value(
            MetricType::Counter, static_cast<double>(st.outcomes[e][d].load()),
            {{"hook", name},
             {"event", std::string(HookEventName(static_cast<HookEvent>(e)))},
             {"decision", kDecisions[d]}}));
      }
    }
    errors.metric.push_back(Value(MetricType::Counter, st.errors.load(), {{"hook", name}}));
    timeouts.metric.push_back(Value(MetricType::Counter, st.timeouts.load(), {{"hook", name}}));
    fail_open.metric.push_back(
        Value(MetricType::Counter, st.fail_open_allowances.load(), {{"hook", name}}));
    sent.metric.push_back(Value(MetricType::Counter, st.batches_sent.load(), {{"hook", name}}));
    dropped_batches.metric.push_back(
        Value(MetricType::Counter, st.dropped_batches.load(), {{"hook", name}}));
    notifications.metric.push_back(
        Value(MetricType::Counter, st.notifications_sent.load(), {{"hook", name}}));
    dropped_events.metric.push_back(
        Value(MetricType::Counter, st.dropped_events.load(), {{"hook", name}}));
    depth.metric.push_back(Value(MetricType::Gauge, st.queue_depth.load(), {{"hook", name}}));
    ClientMetric h;
    h.label = {{"hook", name}};
    uint64_t cumulative = 0;
    for (size_t i = 0; i < HookStats::kLatencyBucketsMs.size(); ++i) {
      cumulative += st.latency_buckets[i].load();
      h.histogram.bucket.push_back({cumulative, HookStats::kLatencyBucketsMs[i] / 1000.0});
    }
    cumulative += st.latency_buckets.back().load();
    h.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    h.histogram.sample_count = cumulative;
    h.histogram.sample_sum = static_cast<double>(st.latency_sum_us.load()) / 1e6;
    latency.metric.push_back(std::move(h));
  }
  for (auto* f : {&calls, &errors, &timeouts, &fail_open, &latency, &sent, &dropped_batches,
                  &notifications, &dropped_events, &depth}) {
    out.push_back(std::move(*f));
  }
  return out;
}

void MetricsCollector::CollectPerTunnel(const std::vector<TunnelSample>& samples,
                                        std::vector<MetricFamily>* out) const {
  const uint32_t configured = server_.config().metrics_options().max_series();
  const size_t cap = configured == 0 ? kDefaultMaxTunnelSeries : configured;
  TunnelSeriesSelection sel = SelectTunnelSeries(samples, cap);
  const uint64_t cut_total = cut_tunnels_.Note(sel.cut_ids);

  auto bytes = Family("reitunnel_tunnel_bytes_total",
                      "Bytes relayed per open tunnel (metrics_options.per_tunnel_labels); "
                      "direction in = from visitors, out = to visitors.",
                      MetricType::Counter);
  auto visitors = Family("reitunnel_tunnel_visitor_connections",
                         "Active visitor connections per open tunnel.", MetricType::Gauge);
  for (const TunnelSeries& t : sel.series) {
    bytes.metric.push_back(Value(MetricType::Counter, static_cast<double>(t.bytes_in),
                                 {{"tunnel", t.name}, {"client", t.client}, {"direction", "in"}}));
    bytes.metric.push_back(Value(MetricType::Counter, static_cast<double>(t.bytes_out),
                                 {{"tunnel", t.name}, {"client", t.client}, {"direction", "out"}}));
    visitors.metric.push_back(Value(MetricType::Gauge, static_cast<double>(t.visitors),
                                    {{"tunnel", t.name}, {"client", t.client}}));
  }
  out->push_back(std::move(bytes));
  out->push_back(std::move(visitors));
  // Not "..._dropped": OpenMetrics names the counter below's family that.
  auto dropped = Family("reitunnel_tunnel_series_excluded",
                        "Open tunnels left out of the per-tunnel series by "
                        "metrics_options.max_series at this scrape.",
                        MetricType::Gauge);
  dropped.metric.push_back(Value(MetricType::Gauge, static_cast<double>(sel.cut_ids.size())));
  out->push_back(std::move(dropped));
  auto dropped_total = Family("reitunnel_tunnel_series_dropped_total",
                              "Tunnels left out of the per-tunnel series by "
                              "metrics_options.max_series, each counted once.",
                              MetricType::Counter);
  dropped_total.metric.push_back(Value(MetricType::Counter, static_cast<double>(cut_total)));
  out->push_back(std::move(dropped_total));
}

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(const std::string& address,
                                                                        Server& server) {
  auto hp = config::ParseHostPort(address);
  if (!hp.ok()) return hp.status();
  // civetweb only says "null context when constructing CivetServer" when the
  // port is taken; say which address and why.
  asio::error_code aec;
  auto ip = asio::ip::make_address(hp->host, aec);
  if (!aec && hp->port != 0) {
    if (auto ec = net::ProbeListen({ip, hp->port})) {
      return absl::UnavailableError(
          absl::StrCat("cannot serve metrics on ", address, ": ", ec.message()));
    }
  }
  auto ep = std::unique_ptr<MetricsEndpoint>(new MetricsEndpoint());
  try {
    // civetweb wants "host:port"; IPv6 in brackets.
    ep->exposer_ = std::make_unique<prometheus::Exposer>(hp->ToString(), 2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  ep->collector_ = std::make_shared<MetricsCollector>(server);
  ep->exposer_->RegisterCollectable(ep->collector_);
  auto ports = ep->exposer_->GetListeningPorts();
  std::string host = hp->host.find(':') != std::string::npos ? absl::StrCat("[", hp->host, "]")
                                                              : hp->host;
  ep->address_ = absl::StrCat(host, ":", ports.empty() ? hp->port : ports.front());
  return ep;
}

}  // namespace reitunnel::server
