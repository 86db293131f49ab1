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
#include "server/admin/cluster_admin.h"
#include "server/cluster_mode/cluster_node.h"
#include "server/admin/admin_views.h"
#include "server/hooks/hook_dispatcher.h"
#include "server/server.h"
#include "server/registry/session_registry.h"
#include "server/session/tunnel_core.h"

namespace reitunnel::server {

namespace av1 = admin::v1;

namespace {

constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;

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

}  // namespace

AdminService::AdminService(Server& server, asio::any_io_executor control, AdminAuth auth,
                           std::string admin_token)
    : server_(server), control_(control), auth_(std::move(auth)) {
  if (server_.cluster()) {
    cluster_admin_ = std::make_unique<ClusterAdmin>(
        server_.cluster(), std::move(admin_token), !server_.config().admin_api().cert_file().empty());
  }
}

AdminService::~AdminService() = default;

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
    FillServerInfo(server_, {addresses_.admin, addresses_.metrics}, resp);
    return grpc::Status::OK;
  });
}

grpc::Status AdminService::LocalListClients(const av1::ListClientsRequest* req,
                                            av1::ListClientsResponse* resp) {
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
}

grpc::ServerUnaryReactor* AdminService::ListClients(grpc::CallbackServerContext* ctx,
                                                    const av1::ListClientsRequest* req,
                                                    av1::ListClientsResponse* resp) {
  if (!cluster_admin_ || req->local_only()) {
    return Answer(ctx, [this, req, resp] { return LocalListClients(req, resp); });
  }
  auto* reactor = ctx->DefaultReactor();
  if (grpc::Status auth = auth_.Check(*ctx); !auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  // Everything here, merged with every replica's, then paged.
  av1::ListClientsRequest all = *req;
  all.set_page_size(1000);
  all.clear_page_token();
  auto local = std::make_shared<av1::ListClientsResponse>();
  if (grpc::Status st = LocalListClients(&all, local.get()); !st.ok()) {
    reactor->Finish(st);
    return reactor;
  }
  std::string self = server_.cluster()->replica_id();
  cluster_admin_->AskClients(
      *req, [reactor, req, resp, local, self](
                std::vector<ClusterAdmin::PeerResult<av1::ListClientsResponse>> peers) {
        av1::ListClientsResponse merged;
        ClusterAdmin::MergeClients(self, std::move(*local), peers, &merged);
        size_t begin = 0, end = 0;
        std::string next;
        grpc::Status st = Page(req->page_size(), req->page_token(), merged.clients_size(), &begin,
                               &end, &next);
        if (st.ok()) {
          for (size_t i = begin; i < end; ++i) *resp->add_clients() = merged.clients(i);
          resp->set_next_page_token(next);
          resp->set_total_size(merged.total_size());
        }
        reactor->Finish(st);
      });
  return reactor;
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
  if (!cluster_admin_ || req->local_only()) {
    server_.Kick(req->client_id(), reason, std::chrono::seconds(req->ban_seconds()),
                 [reactor](grpc::Status s) { reactor->Finish(s); });
    return reactor;
  }
  // Here and on every other replica; found if any replica had the agent.
  auto* cluster_admin = cluster_admin_.get();
  av1::DisconnectClientRequest fwd = *req;
  fwd.set_reason(reason);
  server_.Kick(req->client_id(), reason, std::chrono::seconds(req->ban_seconds()),
               [reactor, cluster_admin, fwd](grpc::Status local) {
                 cluster_admin->AskDisconnect(
                     fwd, [reactor, local](std::vector<ClusterAdmin::PeerResult<
                                               av1::DisconnectClientResponse>> peers) {
                       bool found = local.ok();
                       for (const auto& p : peers) found |= p.status.ok();
                       reactor->Finish(found ? grpc::Status::OK : local);
                     });
               });
  return reactor;
}

grpc::Status AdminService::LocalListTunnels(const av1::ListTunnelsRequest* req,
                                            av1::ListTunnelsResponse* resp) {
    std::map<std::string, std::string> selector;
    if (!ParseSelector(req->label_selector(), &selector)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "label_selector must be key=value[,key=value...]");
    }
    std::vector<SessionRegistry::SessionView> views;
    for (auto& v : server_.registry().Snapshot()) {
      if (!req->client_id().empty() && v.entry->info.client_id != req->client_id()) continue;
      if (Matches(*v.entry, selector)) views.push_back(std::move(v));
    }
    std::vector<av1::Tunnel> matching = CollectTunnels(views, req->include_not_open());
    size_t begin = 0, end = 0;
    std::string next;
    grpc::Status st = Page(req->page_size(), req->page_token(), matching.size(), &begin, &end, &next);
    if (!st.ok()) return st;
    for (size_t i = begin; i < end; ++i) *resp->add_tunnels() = std::move(matching[i]);
    resp->set_next_page_token(next);
    resp->set_total_size(static_cast<uint32_t>(matching.size()));
    return grpc::Status::OK;
}

grpc::ServerUnaryReactor* AdminService::ListTunnels(grpc::CallbackServerContext* ctx,
                                                    const av1::ListTunnelsRequest* req,
                                                    av1::ListTunnelsResponse* resp) {
  if (!cluster_admin_ || req->local_only()) {
    return Answer(ctx, [this, req, resp] { return LocalListTunnels(req, resp); });
  }
  auto* reactor = ctx->DefaultReactor();
  if (grpc::Status auth = auth_.Check(*ctx); !auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  av1::ListTunnelsRequest all = *req;
  all.set_page_size(1000);
  all.clear_page_token();
  auto local = std::make_shared<av1::ListTunnelsResponse>();
  if (grpc::Status st = LocalListTunnels(&all, local.get()); !st.ok()) {
    reactor->Finish(st);
    return reactor;
  }
  std::string self = server_.cluster()->replica_id();
  cluster_admin_->AskTunnels(
      *req, [reactor, req, resp, local, self](
                std::vector<ClusterAdmin::PeerResult<av1::ListTunnelsResponse>> peers) {
        av1::ListTunnelsResponse merged;
        ClusterAdmin::MergeTunnels(self, std::move(*local), peers, &merged);
        size_t begin = 0, end = 0;
        std::string next;
        grpc::Status st = Page(req->page_size(), req->page_token(), merged.tunnels_size(), &begin,
                               &end, &next);
        if (st.ok()) {
          for (size_t i = begin; i < end; ++i) *resp->add_tunnels() = merged.tunnels(i);
          resp->set_next_page_token(next);
          resp->set_total_size(merged.total_size());
        }
        reactor->Finish(st);
      });
  return reactor;
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
  auto ban = std::chrono::seconds(req->ban_seconds());
  // Tunnel ids differ per replica; the agent's client id and the tunnel's
  // name are the same everywhere.
  std::string tunnel_id = req->tunnel_id();
  std::string client_id = req->client_id();
  std::string name = req->name();
  if (tunnel_id.empty() || client_id.empty() || name.empty()) {
    std::shared_ptr<SessionEntry> entry;
    if (!tunnel_id.empty()) {
      if (auto t = server_.registry().FindTunnel(tunnel_id, &entry)) {
        client_id = t->info().client_id;
        name = t->info().name;
      }
    } else {
      for (const auto& v : server_.registry().Snapshot()) {
        if (v.entry->info.client_id != client_id) continue;
        for (const auto& t : v.tunnels) {
          if (t->info().name == name) tunnel_id = t->info().tunnel_id;
        }
      }
    }
  }
  auto close_local = [this, tunnel_id, reason, ban](std::function<void(grpc::Status)> done) {
    if (tunnel_id.empty()) {
      done(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such tunnel on this replica"));
      return;
    }
    server_.CloseTunnel(tunnel_id, reason, ban, std::move(done));
  };
  if (!cluster_admin_ || req->local_only()) {
    close_local([reactor](grpc::Status s) { reactor->Finish(s); });
    return reactor;
  }
  if (client_id.empty() || name.empty()) {
    // Not here: ask the other replicas, which close it by id and say it.
    av1::CloseTunnelRequest fwd = *req;
    fwd.set_reason(reason);
    cluster_admin_->AskCloseTunnel(
        fwd, [reactor, id = req->tunnel_id()](
                 std::vector<ClusterAdmin::PeerResult<av1::CloseTunnelResponse>> peers) {
          bool found = false;
          for (const auto& p : peers) found |= p.status.ok();
          reactor->Finish(found ? grpc::Status::OK
                                : grpc::Status(grpc::StatusCode::NOT_FOUND,
                                               absl::StrCat("no tunnel with id \"",
                                                            id.substr(0, 64), "\"")));
        });
    return reactor;
  }
  av1::CloseTunnelRequest fwd;
  fwd.set_client_id(client_id);
  fwd.set_name(name);
  fwd.set_reason(reason);
  fwd.set_ban_seconds(req->ban_seconds());
  auto* cluster_admin = cluster_admin_.get();
  close_local([reactor, cluster_admin, fwd](grpc::Status local) {
    cluster_admin->AskCloseTunnel(
        fwd, [reactor, local](std::vector<ClusterAdmin::PeerResult<av1::CloseTunnelResponse>> peers) {
          bool found = local.ok();
          for (const auto& p : peers) found |= p.status.ok();
          reactor->Finish(found ? grpc::Status::OK : local);
        });
  });
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::GetClusterStatus(grpc::CallbackServerContext* ctx,
                                                         const av1::GetClusterStatusRequest*,
                                                         av1::ClusterStatus* resp) {
  auto* reactor = ctx->DefaultReactor();
  if (grpc::Status auth = auth_.Check(*ctx); !auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  // This replica, from its own registry.
  av1::ReplicaStatus self;
  self.set_version(kVersion);
  *self.mutable_started_at() = ToTimestamp(server_.started_at());
  self.set_draining(server_.draining());
  self.set_agent_address(server_.listen_addr());
  self.set_admin_address(addresses_.admin);
  self.set_reachable(true);
  self.set_self(true);
  self.set_data_plane_healthy(server_.data_plane_healthy());
  for (const auto& v : server_.registry().Snapshot()) {
    self.set_clients(self.clients() + 1);
    for (const auto& t : v.tunnels) {
      self.set_tunnels(self.tunnels() + 1);
      self.set_active_visitors(self.active_visitors() + t->Totals().active_visitors());
    }
  }
  auto* cluster = server_.cluster();
  if (!cluster_admin_ || !cluster) {
    resp->set_enabled(false);
    *resp->add_replicas() = self;
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  resp->set_enabled(true);
  resp->set_cluster_name(cluster->cluster_name());
  resp->set_replica_id(cluster->replica_id());
  resp->set_lease_valid(cluster->lease_valid());
  self.set_replica_id(cluster->replica_id());
  auto records = cluster->Records();
  cluster_admin_->AskServerInfo(
      [reactor, resp, self, records](std::vector<ClusterAdmin::PeerResult<av1::ServerInfo>> peers) {
        std::map<std::string, av1::ReplicaStatus> out;
        out[self.replica_id()] = self;
        for (const auto& r : records) {
          if (r.replica_id() == self.replica_id()) continue;
          auto& st = out[r.replica_id()];
          st.set_replica_id(r.replica_id());
          st.set_version(r.version());
          *st.mutable_started_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(
              r.start_time_unix_ms());
          st.set_draining(r.draining());
          st.set_agent_address(r.agent_address());
          st.set_admin_address(r.admin_address());
          st.set_error("no answer");
        }
        for (const auto& p : peers) {
          auto& st = out[p.replica_id];
          if (!p.status.ok()) {
            st.set_error(p.status.error_message());
            continue;
          }
          st.set_reachable(true);
          st.clear_error();
          st.set_data_plane_healthy(p.response.data_plane_healthy());
          st.set_clients(p.response.clients());
          st.set_tunnels(p.response.tunnels());
          st.set_active_visitors(p.response.active_visitors());
        }
        for (auto& [_, st] : out) *resp->add_replicas() = std::move(st);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::ListBans(grpc::CallbackServerContext* ctx,
                                                 const av1::ListBansRequest*,
                                                 av1::ListBansResponse* resp) {
  return Answer(ctx, [this, resp] {
    FillBans(server_.bans(), resp);
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
    FillHooks(*hooks, resp);
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
    av1::Event ev;
    if (!EventFromHook(e, m, d, &ev)) return;
    if (!req_.client_id().empty() && ev.client_id() != req_.client_id()) return;
    if (!req_.tunnel_id().empty() && ev.tunnel_id() != req_.tunnel_id()) return;
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
