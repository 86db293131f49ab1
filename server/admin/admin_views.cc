#include "server/admin/admin_views.h"

#include <algorithm>
#include <chrono>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/config/yaml_proto.h"
#include "common/proto_util/time.h"
#include "common/runtime/worker_pool.h"
#include "common/version.h"
#include "server/hooks/hook_dispatcher.h"
#include "server/registry/bans.h"
#include "server/server.h"
#include "server/session/tunnel_core.h"

namespace reitunnel::server {

namespace av1 = admin::v1;

namespace {

std::string CodeName(wire::v1::RefusalCode code) {
  std::string name = wire::v1::RefusalCode_Name(code);
  return name.rfind("REFUSAL_CODE_", 0) == 0 ? name.substr(13) : name;
}

std::string RedactedConfigYaml(config::v1::ServerConfig cfg) {
  // Secrets are replaced, not removed, so an operator sees they are set.
  if (!cfg.token().empty()) cfg.set_token("<redacted>");
  if (!cfg.admin_api().token().empty()) cfg.mutable_admin_api()->set_token("<redacted>");
  // An agent's token hash authenticates it just like the token.
  for (auto& a : *cfg.mutable_agents()) {
    if (!a.token_sha256().empty()) a.set_token_sha256("<redacted>");
  }
  return config::ProtoToYaml(cfg);
}

std::string StringField(const google::protobuf::Message& m, const char* name) {
  const auto* f = m.GetDescriptor()->FindFieldByName(name);
  if (!f || f->type() != google::protobuf::FieldDescriptor::TYPE_STRING || f->is_repeated()) {
    return "";
  }
  return m.GetReflection()->GetString(m, f);
}

}  // namespace

void FillTunnel(const TunnelCore& t, av1::Tunnel* out) {
  const auto& info = t.info();
  TunnelTotals totals = t.Totals();
  out->set_tunnel_id(info.tunnel_id);
  out->set_name(info.name);
  out->set_client_id(info.client_id);
  out->set_remote_port(info.remote_port);
  out->set_local_addr(info.local_addr);
  *out->mutable_opened_at() = ToTimestamp(info.opened_at);
  out->set_active_visitors(totals.active_visitors());
  out->set_visitors_total(totals.visitors_opened);
  out->set_bytes_in(totals.bytes_in);
  out->set_bytes_out(totals.bytes_out);
  out->set_state("open");
  *out->mutable_state_since() = ToTimestamp(info.opened_at);
  auto kind = info.metadata.find("kind");
  out->set_kind(kind == info.metadata.end() ? "tcp" : kind->second);
  auto hostname = info.metadata.find("hostname");
  if (hostname != info.metadata.end()) out->set_hostname(hostname->second);
}

void FillRequested(const SessionEntry& e, const RequestedTunnel& r, av1::Tunnel* out) {
  out->set_name(r.name);
  out->set_client_id(e.info.client_id);
  out->set_local_addr(r.local_addr);
  out->set_state(StateName(r.state));
  out->set_requested_port(r.requested_port);
  out->set_attempts(r.attempts);
  *out->mutable_state_since() = ToTimestamp(r.since);
  out->set_kind(r.kind.empty() ? "tcp" : r.kind);
  out->set_hostname(r.hostname);
  if (!r.last_reason.empty()) {
    out->set_last_error(r.last_code == wire::v1::REFUSAL_CODE_UNSPECIFIED
                            ? r.last_reason
                            : absl::StrCat(CodeName(r.last_code), ": ", r.last_reason));
  }
}

void FillClient(const SessionRegistry::SessionView& v, av1::Client* out) {
  const auto& info = v.entry->info;
  out->set_client_id(info.client_id);
  out->set_remote_addr(info.remote_addr);
  out->set_agent_version(info.agent_version);
  out->mutable_labels()->insert(info.labels.begin(), info.labels.end());
  *out->mutable_connected_at() = ToTimestamp(info.connected_at);
  out->set_agent_id(info.agent_id);
  out->set_identity(AgentIdentity(info));
  out->set_instance_id(info.instance_id);
  out->set_agent_id_verified(info.agent_id_verified);
  out->set_transport(info.transport);
  out->set_tls_subject(info.tls_subject);
  out->set_tls_fingerprint_sha256(info.tls_fingerprint_sha256);
  uint64_t in = 0, out_bytes = 0, visitors = 0;
  for (const auto& t : v.tunnels) {
    out->add_tunnel_ids(t->info().tunnel_id);
    TunnelTotals totals = t->Totals();
    in += totals.bytes_in;
    out_bytes += totals.bytes_out;
    visitors += totals.active_visitors();
  }
  out->set_bytes_in(in);
  out->set_bytes_out(out_bytes);
  out->set_active_visitors(visitors);
}

std::vector<av1::Tunnel> CollectTunnels(const std::vector<SessionRegistry::SessionView>& views,
                                        bool include_not_open) {
  std::vector<av1::Tunnel> out;
  for (const auto& v : views) {
    for (const auto& t : v.tunnels) {
      av1::Tunnel tunnel;
      FillTunnel(*t, &tunnel);
      for (const auto& r : v.requested) {
        if (r.name == t->info().name) {
          tunnel.set_attempts(r.attempts);
          tunnel.set_requested_port(r.requested_port);
        }
      }
      out.push_back(std::move(tunnel));
    }
    if (!include_not_open) continue;
    for (const auto& r : v.requested) {
      if (r.state == RequestedTunnel::State::kOpen) continue;
      av1::Tunnel tunnel;
      FillRequested(*v.entry, r, &tunnel);
      out.push_back(std::move(tunnel));
    }
  }
  std::sort(out.begin(), out.end(), [](const av1::Tunnel& a, const av1::Tunnel& b) {
    return std::make_tuple(a.tunnel_id().empty(), a.tunnel_id(), a.client_id(), a.name()) <
           std::make_tuple(b.tunnel_id().empty(), b.tunnel_id(), b.client_id(), b.name());
  });
  return out;
}

void FillServerInfo(Server& server, const ListenerAddresses& addresses, av1::ServerInfo* out) {
  const auto& cfg = server.config();
  out->set_version(kVersion);
  out->set_instance_id(server.instance_id());
  *out->mutable_started_at() = ToTimestamp(server.started_at());
  out->set_uptime_seconds(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() -
                                                       server.started_at())
          .count()));
  out->set_listen_addr(server.listen_addr());
  out->set_admin_addr(addresses.admin);
  out->set_metrics_addr(addresses.metrics);
  out->set_public_ports(cfg.public_ports());
  out->set_tls(!cfg.tls().cert_file().empty());
  out->set_draining(server.draining());
  out->set_workers(static_cast<uint32_t>(server.workers().size()));
  out->set_data_plane_healthy(server.data_plane_healthy());
  TunnelTotals closed = server.registry().closed_totals();
  uint32_t clients = 0, tunnels = 0;
  uint64_t visitors = 0, in = closed.bytes_in, bytes_out = closed.bytes_out;
  for (const auto& v : server.registry().Snapshot()) {
    ++clients;
    for (const auto& t : v.tunnels) {
      ++tunnels;
      TunnelTotals totals = t->Totals();
      visitors += totals.active_visitors();
      in += totals.bytes_in;
      bytes_out += totals.bytes_out;
    }
  }
  out->set_clients(clients);
  out->set_tunnels(tunnels);
  out->set_active_visitors(visitors);
  out->set_bytes_in(in);
  out->set_bytes_out(bytes_out);
  out->set_config_yaml(RedactedConfigYaml(cfg));
}

void FillHooks(const HookDispatcher& hooks, av1::ListHooksResponse* out) {
  out->set_strategy(hooks.settings().strategy());
  for (const auto& v : hooks.Hooks()) {
    auto* h = out->add_hooks();
    h->set_name(v.config->name());
    h->set_address(v.config->address());
    h->set_state(v.state);
    for (const auto& e : v.events) h->add_events(e);
    for (const auto& e : v.implemented) h->add_implemented_events(e);
    h->set_described(v.described);
    h->set_failure_policy(v.config->failure_policy());
    h->set_timeout_ms(v.config->timeout_ms());
    const HookStats& s = *v.stats;
    h->set_calls(s.calls);
    h->set_allowed(s.allowed);
    h->set_denied(s.denied);
    h->set_errors(s.errors);
    h->set_timeouts(s.timeouts);
    h->set_fail_open_allowances(s.fail_open_allowances);
    h->set_latency_p50_ms(s.LatencyQuantileMs(0.5));
    h->set_latency_p99_ms(s.LatencyQuantileMs(0.99));
    h->set_queue_depth(s.queue_depth);
    h->set_notifications_sent(s.notifications_sent);
    h->set_batches_sent(s.batches_sent);
    h->set_dropped_events(s.dropped_events);
    h->set_dropped_batches(s.dropped_batches);
  }
}

void FillBans(const Bans& bans, av1::ListBansResponse* out) {
  for (const auto& b : bans.List()) {
    auto* ban = out->add_bans();
    ban->set_identity(b.identity);
    ban->set_tunnel_name(b.tunnel_name);
    ban->set_reason(b.reason);
    *ban->mutable_until() = ToTimestamp(b.until);
    *ban->mutable_created() = ToTimestamp(b.created);
  }
}

bool EventFromHook(HookEvent e, const google::protobuf::Message& m, const HookDecision& d,
                   av1::Event* out) {
  google::protobuf::Message* payload = nullptr;
  switch (e) {
    case HookEvent::kClientConnect: payload = out->mutable_client_connect(); break;
    case HookEvent::kClientDisconnect: payload = out->mutable_client_disconnect(); break;
    case HookEvent::kTunnelOpen: payload = out->mutable_tunnel_open(); break;
    case HookEvent::kTunnelClose: payload = out->mutable_tunnel_close(); break;
    case HookEvent::kVisitorConnect: payload = out->mutable_visitor_connect(); break;
    case HookEvent::kVisitorDisconnect: payload = out->mutable_visitor_disconnect(); break;
    case HookEvent::kError: payload = out->mutable_error(); break;
    case HookEvent::kServerStop: payload = out->mutable_server_stop(); break;
    default: return false;
  }
  payload->CopyFrom(m);
  out->set_type(std::string(HookEventName(e)));
  *out->mutable_time() = NowTimestamp();
  out->set_client_id(StringField(m, "client_id"));
  out->set_tunnel_id(StringField(m, "tunnel_id"));
  out->set_allowed(d.allowed());
  out->set_reason(d.reason);
  return true;
}

}  // namespace reitunnel::server
