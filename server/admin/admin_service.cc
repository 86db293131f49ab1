#include "server/admin/admin_service.h"

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "asio/post.hpp"
#include "common/log/log.h"
#include "common/proto_util/time.h"
#include "common/runtime/worker_pool.h"
#include "common/version.h"
#include "common/config/yaml_proto.h"
#include "google/protobuf/util/time_util.h"
#include "server/hooks/hook_dispatcher.h"
#include "server/server.h"
#include "server/registry/session_registry.h"
#include "server/session/tunnel_core.h"

namespace reitunnel::server {

namespace av1 = admin::v1;

namespace {

constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;

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
}

std::string CodeName(wire::v1::RefusalCode code) {
  std::string name = wire::v1::RefusalCode_Name(code);
  return name.rfind("REFUSAL_CODE_", 0) == 0 ? name.substr(13) : name;
}

// A tunnel the agent asked for that is not open.
void FillRequested(const SessionEntry& e, const RequestedTunnel& r, av1::Tunnel* out) {
  out->set_name(r.name);
  out->set_client_id(e.info.client_id);
  out->set_local_addr(r.local_addr);
  out->set_state(StateName(r.state));
  out->set_requested_port(r.requested_port);
  out->set_attempts(r.attempts);
  *out->mutable_state_since() = ToTimestamp(r.since);
  out->set_kind("tcp");
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

// "k=v,k2=v2" -> map; false on a malformed selector.
bool ParseSelector(const std::string& selector, std::map<std::string, std::string>* out) {
  if (selector.empty()) return true;
  for (absl::string_view part : absl::StrSplit(selector, ',')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.first.empty() || part.find('=') == absl::string_view::npos) return false;
    (*out)[kv.first] = kv.second;
  }
  return true;
}

bool Matches(const SessionEntry& s, const std::map<std::string, std::string>& selector) {
  for (const auto& [k, v] : selector) {
    auto it = s.info.labels.find(k);
    if (it == s.info.labels.end() || it->second != v) return false;
  }
  return true;
}

// Offsets into a sorted list, as opaque-enough page tokens.
grpc::Status Page(uint32_t page_size, const std::string& token, size_t total, size_t* begin,
                  size_t* end, std::string* next) {
  uint32_t size = page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
  size_t offset = 0;
  if (!token.empty() && !absl::SimpleAtoi(token, &offset)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "invalid page_token");
  }
  *begin = std::min(offset, total);
  *end = std::min(total, *begin + size);
  if (*end < total) *next = absl::StrCat(*end);
  return grpc::Status::OK;
}

std::string RedactedConfigYaml(config::v1::ServerConfig cfg) {
  // Secrets are replaced, not removed, so an operator sees they are set.
  if (!cfg.token().empty()) cfg.set_token("<redacted>");
  if (!cfg.admin_api().token().empty()) cfg.mutable_admin_api()->set_token("<redacted>");
  return config::ProtoToYaml(cfg);
}

std::string EventType(HookEvent e) { return std::string(HookEventName(e)); }

std::string StringField(const google::protobuf::Message& m, const char* name) {
  const auto* f = m.GetDescriptor()->FindFieldByName(name);
  if (!f || f->type() != google::protobuf::FieldDescriptor::TYPE_STRING || f->is_repeated()) {
    return "";
  }
  return m.GetReflection()->GetString(m, f);
}

}  // namespace

AdminService::AdminService(Server& server, asio::any_io_executor control, AdminAuth auth)
    : server_(server), control_(control), auth_(std::move(auth)) {}

template <typename F>
grpc::ServerUnaryReactor* AdminService::Answer(grpc::CallbackServerContext* ctx, F work) {
  auto* reactor = ctx->DefaultReactor();
  grpc::Status auth = auth_.Check(*ctx);
  reactor->Finish(auth.ok() ? work() : auth);
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::GetServerInfo(grpc::CallbackServerContext* ctx,
                                                      const av1::GetServerInfoRequest*,
                                                      av1::ServerInfo* resp) {
  return Answer(ctx, [this, resp] {
    const auto& cfg = server_.config();
    resp->set_version(kVersion);
    resp->set_instance_id(server_.instance_id());
    *resp->mutable_started_at() = ToTimestamp(server_.started_at());
    resp->set_uptime_seconds(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() -
                                                         server_.started_at())
            .count()));
    resp->set_listen_addr(server_.listen_addr());
    resp->set_admin_addr(addresses_.admin);
    resp->set_metrics_addr(addresses_.metrics);
    resp->set_public_ports(cfg.public_ports());
    resp->set_tls(!cfg.tls().cert_file().empty());
    resp->set_draining(server_.draining());
    resp->set_workers(static_cast<uint32_t>(server_.workers().size()));
    resp->set_data_plane_healthy(server_.data_plane_healthy());
    TunnelTotals closed = server_.registry().closed_totals();
    uint32_t clients = 0, tunnels = 0;
    uint64_t visitors = 0, in = closed.bytes_in, out = closed.bytes_out;
    for (const auto& v : server_.registry().Snapshot()) {
      ++clients;
      for (const auto& t : v.tunnels) {
        ++tunnels;
        TunnelTotals totals = t->Totals();
        visitors += totals.active_visitors();
        in += totals.bytes_in;
        out += totals.bytes_out;
      }
    }
    resp->set_clients(clients);
    resp->set_tunnels(tunnels);
    resp->set_active_visitors(visitors);
    resp->set_bytes_in(in);
    resp->set_bytes_out(out);
    resp->set_config_yaml(RedactedConfigYaml(cfg));
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminService::ListClients(grpc::CallbackServerContext* ctx,
                                                    const av1::ListClientsRequest* req,
                                                    av1::ListClientsResponse* resp) {
  return Answer(ctx, [this, req, resp] {
    std::map<std::string, std::string> selector;
    if (!ParseSelector(req->label_selector(), &selector)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "label_selector must be key=value[,key=value...]");
    }
    std::vector<SessionRegistry::SessionView> matching;
    for (auto& v : server_.registry().Snapshot()) {
      if (Matches(*v.entry, selector)) matching.push_back(std::move(v));
    }
    size_t begin = 0, end = 0;
    std::string next;
    grpc::Status st = Page(req->page_size(), req->page_token(), matching.size(), &begin, &end, &next);
    if (!st.ok()) return st;
    for (size_t i = begin; i < end; ++i) FillClient(matching[i], resp->add_clients());
    resp->set_next_page_token(next);
    resp->set_total_size(static_cast<uint32_t>(matching.size()));
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminService::GetClient(grpc::CallbackServerContext* ctx,
                                                  const av1::GetClientRequest* req,
                                                  av1::Client* resp) {
  return Answer(ctx, [this, req, resp] {
    for (const auto& v : server_.registry().Snapshot()) {
      if (v.entry->info.client_id != req->client_id()) continue;
      FillClient(v, resp);
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no client with id \"", req->client_id().substr(0, 64), "\""));
  });
}

grpc::ServerUnaryReactor* AdminService::DisconnectClient(grpc::CallbackServerContext* ctx,
                                                         const av1::DisconnectClientRequest* req,
                                                         av1::DisconnectClientResponse*) {
  auto* reactor = ctx->DefaultReactor();
  grpc::Status auth = auth_.Check(*ctx);
  if (!auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  std::string reason =
      req->reason().empty() ? "disconnected by admin" : req->reason().substr(0, 512);
  server_.Kick(req->client_id(), reason, std::chrono::seconds(req->ban_seconds()),
               [reactor](grpc::Status s) { reactor->Finish(s); });
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::ListTunnels(grpc::CallbackServerContext* ctx,
                                                    const av1::ListTunnelsRequest* req,
                                                    av1::ListTunnelsResponse* resp) {
  return Answer(ctx, [this, req, resp] {
    std::map<std::string, std::string> selector;
    if (!ParseSelector(req->label_selector(), &selector)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "label_selector must be key=value[,key=value...]");
    }
    std::vector<av1::Tunnel> matching;
    for (const auto& v : server_.registry().Snapshot()) {
      if (!req->client_id().empty() && v.entry->info.client_id != req->client_id()) continue;
      if (!Matches(*v.entry, selector)) continue;
      for (const auto& t : v.tunnels) {
        av1::Tunnel out;
        FillTunnel(*t, &out);
        for (const auto& r : v.requested) {
          if (r.name == t->info().name) {
            out.set_attempts(r.attempts);
            out.set_requested_port(r.requested_port);
          }
        }
        matching.push_back(std::move(out));
      }
      if (!req->include_not_open()) continue;
      for (const auto& r : v.requested) {
        if (r.state == RequestedTunnel::State::kOpen) continue;
        av1::Tunnel out;
        FillRequested(*v.entry, r, &out);
        matching.push_back(std::move(out));
      }
    }
    // Open tunnels by id; the others (no id) after them, by agent and name.
    std::sort(matching.begin(), matching.end(), [](const av1::Tunnel& a, const av1::Tunnel& b) {
      return std::make_tuple(a.tunnel_id().empty(), a.tunnel_id(), a.client_id(), a.name()) <
             std::make_tuple(b.tunnel_id().empty(), b.tunnel_id(), b.client_id(), b.name());
    });
    size_t begin = 0, end = 0;
    std::string next;
    grpc::Status st = Page(req->page_size(), req->page_token(), matching.size(), &begin, &end, &next);
    if (!st.ok()) return st;
    for (size_t i = begin; i < end; ++i) *resp->add_tunnels() = std::move(matching[i]);
    resp->set_next_page_token(next);
    resp->set_total_size(static_cast<uint32_t>(matching.size()));
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminService::GetTunnel(grpc::CallbackServerContext* ctx,
                                                  const av1::GetTunnelRequest* req,
                                                  av1::Tunnel* resp) {
  return Answer(ctx, [this, req, resp] {
    auto t = server_.registry().FindTunnel(req->tunnel_id(), nullptr);
    if (!t) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("no tunnel with id \"", req->tunnel_id().substr(0, 64), "\""));
    }
    FillTunnel(*t, resp);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminService::CloseTunnel(grpc::CallbackServerContext* ctx,
                                                    const av1::CloseTunnelRequest* req,
                                                    av1::CloseTunnelResponse*) {
  auto* reactor = ctx->DefaultReactor();
  grpc::Status auth = auth_.Check(*ctx);
  if (!auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  std::string reason = req->reason().empty() ? "closed by admin" : req->reason().substr(0, 512);
  server_.CloseTunnel(req->tunnel_id(), reason, std::chrono::seconds(req->ban_seconds()),
                      [reactor](grpc::Status s) { reactor->Finish(s); });
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::ListBans(grpc::CallbackServerContext* ctx,
                                                 const av1::ListBansRequest*,
                                                 av1::ListBansResponse* resp) {
  return Answer(ctx, [this, resp] {
    for (const auto& b : server_.bans().List()) {
      auto* out = resp->add_bans();
      out->set_identity(b.identity);
      out->set_tunnel_name(b.tunnel_name);
      out->set_reason(b.reason);
      *out->mutable_until() = ToTimestamp(b.until);
      *out->mutable_created() = ToTimestamp(b.created);
    }
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminService::RemoveBan(grpc::CallbackServerContext* ctx,
                                                  const av1::RemoveBanRequest* req,
                                                  av1::RemoveBanResponse*) {
  return Answer(ctx, [this, req] {
    if (!server_.bans().Remove(req->identity(), req->tunnel_name())) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such ban in force");
    }
    log::Info("ban_removed", "ban removed",
              {{"identity", req->identity().substr(0, 128)},
               {"name", req->tunnel_name().substr(0, 64)}});
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminService::ListHooks(grpc::CallbackServerContext* ctx,
                                                  const av1::ListHooksRequest*,
                                                  av1::ListHooksResponse* resp) {
  return Answer(ctx, [this, resp] {
    auto* hooks = server_.hooks();
    if (!hooks) return grpc::Status::OK;
    resp->set_strategy(hooks->settings().strategy());
    for (const auto& v : hooks->Hooks()) {
      auto* h = resp->add_hooks();
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
    return grpc::Status::OK;
  });
}

// One WatchEvents stream. Events arrive on the control executor from the
// dispatcher; writes go out one at a time. Deleted on the control executor
// after OnDone, once it is no longer registered, so no event can reach a
// dead reactor.
class AdminService::EventWatcher : public grpc::ServerWriteReactor<av1::Event> {
 public:
  static constexpr size_t kMaxQueued = 1024;

  EventWatcher(asio::any_io_executor control, HookDispatcher* hooks, av1::WatchEventsRequest req)
      : control_(control), hooks_(hooks), req_(std::move(req)) {
    StartSendInitialMetadata();
    asio::post(control_, [this] {
      observer_ = hooks_->AddObserver(
          [this](HookEvent e, const google::protobuf::Message& m, const HookDecision& d) {
            OnEvent(e, m, d);
          });
      log::Info("watch_started", "admin event watcher attached",
                {{"client_id", req_.client_id()}, {"tunnel_id", req_.tunnel_id()}});
    });
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> l(mu_);
    if (!ok) {
      writing_ = false;
      FinishLocked(grpc::Status::OK);
      return;
    }
    if (queue_.empty()) {
      writing_ = false;
      if (finish_pending_) FinishLocked(grpc::Status::OK);
      return;
    }
    current_ = std::move(queue_.front());
    queue_.pop_front();
    StartWrite(&current_);
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> l(mu_);
    if (writing_) {
      finish_pending_ = true;
    } else {
      FinishLocked(grpc::Status::CANCELLED);
    }
  }

  void OnDone() override {
    asio::post(control_, [this] {
      if (observer_) hooks_->RemoveObserver(observer_);
      delete this;
    });
  }

 private:
  void FinishLocked(const grpc::Status& s) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }

  void OnEvent(HookEvent e, const google::protobuf::Message& m, const HookDecision& d) {
    std::string client_id = StringField(m, "client_id");
    std::string tunnel_id = StringField(m, "tunnel_id");
    if (!req_.client_id().empty() && client_id != req_.client_id()) return;
    if (!req_.tunnel_id().empty() && tunnel_id != req_.tunnel_id()) return;
    av1::Event ev;
    ev.set_type(EventType(e));
    *ev.mutable_time() = NowTimestamp();
    ev.set_client_id(client_id);
    ev.set_tunnel_id(tunnel_id);
    ev.set_allowed(d.allowed());
    ev.set_reason(d.reason);
    google::protobuf::Message* payload = nullptr;
    switch (e) {
      case HookEvent::kClientConnect: payload = ev.mutable_client_connect(); break;
      case HookEvent::kClientDisconnect: payload = ev.mutable_client_disconnect(); break;
      case HookEvent::kTunnelOpen: payload = ev.mutable_tunnel_open(); break;
      case HookEvent::kTunnelClose: payload = ev.mutable_tunnel_close(); break;
      case HookEvent::kVisitorConnect: payload = ev.mutable_visitor_connect(); break;
      case HookEvent::kVisitorDisconnect: payload = ev.mutable_visitor_disconnect(); break;
      case HookEvent::kError: payload = ev.mutable_error(); break;
      case HookEvent::kServerStop: payload = ev.mutable_server_stop(); break;
      default: return;
    }
    payload->CopyFrom(m);
    std::lock_guard<std::mutex> l(mu_);
    if (finished_) return;
    if (writing_) {
      if (queue_.size() < kMaxQueued) queue_.push_back(std::move(ev));
      return;
    }
    writing_ = true;
    current_ = std::move(ev);
    StartWrite(&current_);
  }

  asio::any_io_executor control_;
  HookDispatcher* hooks_;
  av1::WatchEventsRequest req_;
  int observer_ = 0;  // control executor only
  std::mutex mu_;
  std::deque<av1::Event> queue_;
  av1::Event current_;
  bool writing_ = false;
  bool finished_ = false;
  bool finish_pending_ = false;
};

grpc::ServerWriteReactor<av1::Event>* AdminService::WatchEvents(
    grpc::CallbackServerContext* ctx, const av1::WatchEventsRequest* req) {
  grpc::Status auth = auth_.Check(*ctx);
  if (!auth.ok() || !server_.hooks()) {
    class Refuse : public grpc::ServerWriteReactor<av1::Event> {
     public:
      explicit Refuse(grpc::Status s) { Finish(s); }
      void OnDone() override { delete this; }
    };
    return new Refuse(auth.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "no event source")
                                : auth);
  }
  return new EventWatcher(control_, server_.hooks(), *req);
}

}  // namespace reitunnel::server
