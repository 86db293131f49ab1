// AdminService: per-agent identities (server config agents:).

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/admin/admin_service.h"
#include "server/server.h"

namespace reitunnel::server {

namespace av1 = admin::v1;

grpc::ServerUnaryReactor* AdminService::ListAgentIdentities(
    grpc::CallbackServerContext* ctx, const av1::ListAgentIdentitiesRequest*,
    av1::ListAgentIdentitiesResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  if (grpc::Status auth = auth_.Check(*ctx); !auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  {
    std::map<std::string, std::vector<std::string>> sessions;
    for (const auto& v : server_.registry().Snapshot()) {
      const auto& info = v.entry->info;
      if (info.agent_id_verified) sessions[info.agent_id].push_back(info.client_id);
    }
    for (const auto& l : server_.auth().List()) {
      auto* a = resp->add_agents();
      a->set_id(l.entry.id);
      a->set_state(l.revoked ? "revoked" : "active");
      a->set_source(l.entry.source);
      a->set_key_id(l.entry.key_id);
      a->mutable_labels()->insert(l.entry.labels.begin(), l.entry.labels.end());
      for (const auto& r : l.entry.allowed_ports) {
        a->add_allowed_ports(r.low == r.high ? absl::StrCat(r.low)
                                             : absl::StrCat(r.low, "-", r.high));
      }
      for (const auto& h : l.entry.allowed_hostnames) a->add_allowed_hostnames(h);
      for (const auto& id : sessions[l.entry.id]) a->add_client_ids(id);
    }
    resp->set_shared_token(server_.auth().shared_token_enabled());
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::RevokeAgentIdentity(
    grpc::CallbackServerContext* ctx, const av1::RevokeAgentIdentityRequest* req,
    av1::RevokeAgentIdentityResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  grpc::Status auth = auth_.Check(*ctx);
  if (!auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  if (req->id().empty()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "id is required"));
    return reactor;
  }
  server_.RevokeAgent(req->id(), [reactor, resp](grpc::Status s, size_t cut) {
    resp->set_sessions_cut(static_cast<uint32_t>(cut));
    reactor->Finish(s);
  });
  return reactor;
}

}  // namespace reitunnel::server
