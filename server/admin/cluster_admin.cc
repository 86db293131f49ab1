#include "server/admin/cluster_admin.h"

#include <algorithm>
#include <atomic>
#include <tuple>

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_callback.h"
#include "server/cluster_mode/cluster_node.h"

namespace reitunnel::server {

namespace av1 = admin::v1;

ClusterAdmin::ClusterAdmin(ClusterNode* cluster, std::string admin_token, bool admin_tls,
                           std::chrono::milliseconds timeout)
    : cluster_(cluster), token_(std::move(admin_token)), tls_(admin_tls), timeout_(timeout) {}

std::vector<ClusterAdmin::Peer> ClusterAdmin::Peers() const {
  std::vector<Peer> out;
  for (const auto& r : cluster_->Records()) {
    if (r.replica_id() == cluster_->replica_id() || r.admin_address().empty()) continue;
    out.push_back({r.replica_id(), r.admin_address()});
  }
  return out;
}

av1::AdminService::Stub* ClusterAdmin::Stub(const Peer& p) {
  std::lock_guard<std::mutex> l(mu_);
  auto& stub = stubs_[p.address];
  if (!stub) {
    auto creds = tls_ ? grpc::SslCredentials(grpc::SslCredentialsOptions())
                      : grpc::InsecureChannelCredentials();
    stub = av1::AdminService::NewStub(grpc::CreateChannel(p.address, creds));
  }
  return stub.get();
}

template <typename Req, typename Resp, typename Method>
void ClusterAdmin::FanOut(const Req& req, Method method,
                          std::function<void(std::vector<PeerResult<Resp>>)> done) {
  auto peers = Peers();
  if (peers.empty()) {
    done({});
    return;
  }
  struct Call {
    grpc::ClientContext ctx;
    Req req;
    Resp resp;
  };
  struct State {
    std::mutex mu;
    std::vector<PeerResult<Resp>> results;
    std::atomic<size_t> remaining{0};
    std::function<void(std::vector<PeerResult<Resp>>)> done;
  };
  auto state = std::make_shared<State>();
  state->remaining = peers.size();
  state->done = std::move(done);
  for (const auto& p : peers) {
    auto call = std::make_shared<Call>();
    call->req = req;
    call->ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    call->ctx.AddMetadata("authorization", "Bearer " + token_);
    auto* stub = Stub(p);
    method(stub->async(), &call->ctx, &call->req, &call->resp,
                             [state, call, id = p.replica_id](grpc::Status s) {
                               {
                                 std::lock_guard<std::mutex> l(state->mu);
                                 state->results.push_back({id, s, std::move(call->resp)});
                               }
                               if (state->remaining.fetch_sub(1) == 1) {
                                 state->done(std::move(state->results));
                               }
                             });
  }
}

void ClusterAdmin::AskClients(const av1::ListClientsRequest& req,
                              std::function<void(std::vector<PeerResult<av1::ListClientsResponse>>)>
                                  done) {
  av1::ListClientsRequest r = req;
  r.set_local_only(true);
  r.set_page_size(1000);
  r.clear_page_token();
  FanOut<av1::ListClientsRequest, av1::ListClientsResponse>(
      r, [](auto* a, auto* ctx, auto* rq, auto* rs, auto cb) { a->ListClients(ctx, rq, rs, std::move(cb)); }, std::move(done));
}

void ClusterAdmin::AskTunnels(const av1::ListTunnelsRequest& req,
                              std::function<void(std::vector<PeerResult<av1::ListTunnelsResponse>>)>
                                  done) {
  av1::ListTunnelsRequest r = req;
  r.set_local_only(true);
  r.set_page_size(1000);
  r.clear_page_token();
  FanOut<av1::ListTunnelsRequest, av1::ListTunnelsResponse>(
      r, [](auto* a, auto* ctx, auto* rq, auto* rs, auto cb) { a->ListTunnels(ctx, rq, rs, std::move(cb)); }, std::move(done));
}

void ClusterAdmin::AskServerInfo(std::function<void(std::vector<PeerResult<av1::ServerInfo>>)> done) {
  FanOut<av1::GetServerInfoRequest, av1::ServerInfo>(
      av1::GetServerInfoRequest(), [](auto* a, auto* ctx, auto* rq, auto* rs, auto cb) { a->GetServerInfo(ctx, rq, rs, std::move(cb)); },
      std::move(done));
}

void ClusterAdmin::AskDisconnect(
    const av1::DisconnectClientRequest& req,
    std::function<void(std::vector<PeerResult<av1::DisconnectClientResponse>>)> done) {
  av1::DisconnectClientRequest r = req;
  r.set_local_only(true);
  FanOut<av1::DisconnectClientRequest, av1::DisconnectClientResponse>(
      r, [](auto* a, auto* ctx, auto* rq, auto* rs, auto cb) { a->DisconnectClient(ctx, rq, rs, std::move(cb)); }, std::move(done));
}

void ClusterAdmin::AskCloseTunnel(
    const av1::CloseTunnelRequest& req,
    std::function<void(std::vector<PeerResult<av1::CloseTunnelResponse>>)> done) {
  av1::CloseTunnelRequest r = req;
  r.set_local_only(true);
  FanOut<av1::CloseTunnelRequest, av1::CloseTunnelResponse>(
      r, [](auto* a, auto* ctx, auto* rq, auto* rs, auto cb) { a->CloseTunnel(ctx, rq, rs, std::move(cb)); }, std::move(done));
}

namespace {

void AddReplica(google::protobuf::RepeatedPtrField<std::string>* list, const std::string& id) {
  if (std::find(list->begin(), list->end(), id) == list->end()) *list->Add() = id;
}

}  // namespace

void ClusterAdmin::MergeClients(const std::string& self_id, av1::ListClientsResponse local,
                                const std::vector<PeerResult<av1::ListClientsResponse>>& peers,
                                av1::ListClientsResponse* out) {
  std::map<std::string, av1::Client> by_id;
  auto fold = [&](const std::string& replica, const av1::Client& c) {
    auto [it, fresh] = by_id.try_emplace(c.client_id(), c);
    av1::Client& m = it->second;
    if (!fresh) {
      m.set_bytes_in(m.bytes_in() + c.bytes_in());
      m.set_bytes_out(m.bytes_out() + c.bytes_out());
      m.set_active_visitors(m.active_visitors() + c.active_visitors());
      for (const auto& t : c.tunnel_ids()) {
        if (std::find(m.tunnel_ids().begin(), m.tunnel_ids().end(), t) == m.tunnel_ids().end()) {
          m.add_tunnel_ids(t);
        }
      }
    } else {
      m.clear_replicas();
    }
    AddReplica(m.mutable_replicas(), replica);
  };
  for (const auto& c : local.clients()) fold(self_id, c);
  for (const auto& p : peers) {
    if (!p.status.ok()) continue;
    for (const auto& c : p.response.clients()) fold(p.replica_id, c);
  }
  out->clear_clients();
  for (auto& [_, c] : by_id) *out->add_clients() = std::move(c);
  out->set_total_size(static_cast<uint32_t>(by_id.size()));
}

void ClusterAdmin::MergeTunnels(const std::string& self_id, av1::ListTunnelsResponse local,
                                const std::vector<PeerResult<av1::ListTunnelsResponse>>& peers,
                                av1::ListTunnelsResponse* out) {
  // One row per (agent, tunnel name, state): an open tunnel is the same
  // tunnel on every replica, with per-replica ids and byte counts.
  std::map<std::tuple<std::string, std::string, std::string>, av1::Tunnel> by_key;
  auto fold = [&](const std::string& replica, const av1::Tunnel& t) {
    auto key = std::make_tuple(t.client_id(), t.name(), t.state());
    auto [it, fresh] = by_key.try_emplace(key, t);
    av1::Tunnel& m = it->second;
    if (!fresh) {
      m.set_bytes_in(m.bytes_in() + t.bytes_in());
      m.set_bytes_out(m.bytes_out() + t.bytes_out());
      m.set_active_visitors(m.active_visitors() + t.active_visitors());
      m.set_visitors_total(m.visitors_total() + t.visitors_total());
    } else {
      m.clear_replicas();
    }
    AddReplica(m.mutable_replicas(), replica);
  };
  for (const auto& t : local.tunnels()) fold(self_id, t);
  for (const auto& p : peers) {
    if (!p.status.ok()) continue;
    for (const auto& t : p.response.tunnels()) fold(p.replica_id, t);
  }
  out->clear_tunnels();
  for (auto& [_, t] : by_key) *out->add_tunnels() = std::move(t);
  out->set_total_size(static_cast<uint32_t>(by_key.size()));
}

}  // namespace reitunnel::server
