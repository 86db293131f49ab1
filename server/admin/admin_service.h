#pragma once

// reitunnel.admin.v1.AdminService over the gRPC callback API. Reads come
// from the session registry and atomic counters (no hop to the workers, no
// lock held longer than a map copy); actions are posted to the session's
// home worker, and the call finishes from there. No handler blocks.

#include <string>

#include "asio/any_io_executor.hpp"
#include "reitunnel/admin/v1/admin.grpc.pb.h"
#include "server/admin/admin_auth.h"

namespace reitunnel::server {

class Server;

class AdminService final : public admin::v1::AdminService::CallbackService {
 public:
  struct Addresses {
    std::string admin;
    std::string metrics;
  };

  // `control` runs the event watchers (the hook dispatcher's executor).
  AdminService(Server& server, asio::any_io_executor control, AdminAuth auth);
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

 private:
  class EventWatcher;
  // Checks auth, then finishes with work()'s status.
  template <typename F>
  grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* ctx, F work);

  Server& server_;
  asio::any_io_executor control_;
  AdminAuth auth_;
  Addresses addresses_;
};

}  // namespace reitunnel::server
