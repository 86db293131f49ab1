#pragma once

// reitunnel.admin.v1.AdminService over the gRPC callback API. Reads come
// from the session registry and atomic counters (no hop to the workers, no
// lock held longer than a map copy); actions are posted to the session's
// home worker, and the call finishes from there. No handler blocks.

#include <memory>
#include <string>

#include "asio/any_io_executor.hpp"
#include "reitunnel/admin/v1/admin.grpc.pb.h"
#include "server/admin/admin_auth.h"

namespace reitunnel::server {

class ClusterAdmin;
class Server;

class AdminService final : public admin::v1::AdminService::CallbackService {
 public:
  struct Addresses {
    std::string admin;
    std::string metrics;
  };

  // `control` runs the event watchers (the hook dispatcher's executor).
  // `admin_token` authenticates this replica to its peers (cluster mode).
  AdminService(Server& server, asio::any_io_executor control, AdminAuth auth,
               std::string admin_token = "");
  ~AdminService() override;
  void set_addresses(Addresses a) { addresses_ = std::move(a); }

  grpc::ServerUnaryReactor* GetServerInfo(grpc::CallbackServerContext* ctx,
                                          const admin::v1::GetServerInfoRequest* req,
                                          admin::v1::ServerInfo* resp) override;
  grpc::ServerUnaryReactor* ListClients(grpc::CallbackServerContext* ctx,
                                        const admin::v1::ListClientsRequest* req,
                                        admin::v1::ListClientsResponse* resp) override;
  grpc::ServerUnaryReactor* GetClient(grpc::CallbackServerContext* ctx,
                                      const admin::v1::GetClientRequest* req,
                                      admin::v1::Client* resp) override;
  grpc::ServerUnaryReactor* DisconnectClient(grpc::CallbackServerContext* ctx,
                                             const admin::v1::DisconnectClientRequest* req,
                                             admin::v1::DisconnectClientResponse* resp) override;
  grpc::ServerUnaryReactor* ListTunnels(grpc::CallbackServerContext* ctx,
                                        const admin::v1::ListTunnelsRequest* req,
                                        admin::v1::ListTunnelsResponse* resp) override;
  grpc::ServerUnaryReactor* GetTunnel(grpc::CallbackServerContext* ctx,
                                      const admin::v1::GetTunnelRequest* req,
                                      admin::v1::Tunnel* resp) override;
  grpc::ServerUnaryReactor* CloseTunnel(grpc::CallbackServerContext* ctx,
                                        const admin::v1::CloseTunnelRequest* req,
                                        admin::v1::CloseTunnelResponse* resp) override;
  grpc::ServerUnaryReactor* ListBans(grpc::CallbackServerContext* ctx,
                                     const admin::v1::ListBansRequest* req,
                                     admin::v1::ListBansResponse* resp) override;
  grpc::ServerUnaryReactor* RemoveBan(grpc::CallbackServerContext* ctx,
                                      const admin::v1::RemoveBanRequest* req,
                                      admin::v1::RemoveBanResponse* resp) override;
  grpc::ServerUnaryReactor* ListHooks(grpc::CallbackServerContext* ctx,
                                      const admin::v1::ListHooksRequest* req,
                                      admin::v1::ListHooksResponse* resp) override;
  grpc::ServerWriteReactor<admin::v1::Event>* WatchEvents(
      grpc::CallbackServerContext* ctx, const admin::v1::WatchEventsRequest* req) override;
  grpc::ServerUnaryReactor* GetClusterStatus(grpc::CallbackServerContext* ctx,
                                             const admin::v1::GetClusterStatusRequest* req,
                                             admin::v1::ClusterStatus* resp) override;
  // Per-agent identities (admin_identities.cc).
  grpc::ServerUnaryReactor* ListAgentIdentities(
      grpc::CallbackServerContext* ctx, const admin::v1::ListAgentIdentitiesRequest* req,
      admin::v1::ListAgentIdentitiesResponse* resp) override;
  grpc::ServerUnaryReactor* RevokeAgentIdentity(
      grpc::CallbackServerContext* ctx, const admin::v1::RevokeAgentIdentityRequest* req,
      admin::v1::RevokeAgentIdentityResponse* resp) override;

 private:
  class EventWatcher;
  // Checks auth, then finishes with work()'s status.
  template <typename F>
  grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* ctx, F work);
  grpc::Status LocalListClients(const admin::v1::ListClientsRequest* req,
                                admin::v1::ListClientsResponse* resp);
  grpc::Status LocalListTunnels(const admin::v1::ListTunnelsRequest* req,
                                admin::v1::ListTunnelsResponse* resp);

  Server& server_;
  asio::any_io_executor control_;
  AdminAuth auth_;
  Addresses addresses_;
  std::unique_ptr<ClusterAdmin> cluster_admin_;  // cluster mode only
};

}  // namespace reitunnel::server
