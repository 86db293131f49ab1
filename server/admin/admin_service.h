#pragma once

// reitunnel.admin.v1.AdminService over the gRPC callback API. Handlers never
// block a gRPC thread: each one posts its work to the data plane's
// io_context (which owns every session and tunnel) and finishes from there.

#include <string>

#include "asio/io_context.hpp"
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

  AdminService(Server& server, asio::io_context& io, AdminAuth auth);
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
  grpc::ServerUnaryReactor* ListHooks(grpc::CallbackServerContext* ctx,
                                      const admin::v1::ListHooksRequest* req,
                                      admin::v1::ListHooksResponse* resp) override;
  grpc::ServerWriteReactor<admin::v1::Event>* WatchEvents(
      grpc::CallbackServerContext* ctx, const admin::v1::WatchEventsRequest* req) override;

 private:
  class EventWatcher;
  template <typename F>
  grpc::ServerUnaryReactor* OnIo(grpc::CallbackServerContext* ctx, F work);

  Server& server_;
  asio::io_context& io_;
  AdminAuth auth_;
  Addresses addresses_;
};

}  // namespace reitunnel::server
