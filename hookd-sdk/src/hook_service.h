#pragma once

// The gRPC HookService implementation behind HookServer: turns each RPC into
// calls on the registered hooks and combines their answers by strategy.
//
// It uses gRPC's synchronous API on purpose: hook code is user code that may
// block (a database lookup), and the sync server runs each call on a thread
// of its own pool, so a slow hook holds one thread instead of stalling a
// completion queue or callback reactor shared with other calls.

#include <vector>

#include "reitunnel/hook/v1/hook.grpc.pb.h"
#include "reitunnel/hookd/hook.h"
#include "reitunnel/hookd/hook_server.h"

namespace reitunnel::hookd::internal {

class HookServiceImpl final : public ::reitunnel::hook::v1::HookService::Service {
 public:
  HookServiceImpl(std::vector<Hook*> hooks, Strategy strategy)
      : hooks_(std::move(hooks)), strategy_(strategy) {}

  grpc::Status OnServerStart(grpc::ServerContext* context,
                             const ::reitunnel::hook::v1::ServerStartRequest* request,
                             ::reitunnel::hook::v1::DecisionResponse* response) override;
  grpc::Status OnServerStop(grpc::ServerContext* context,
                            const ::reitunnel::hook::v1::ServerStopRequest* request,
                            ::reitunnel::hook::v1::Ack* response) override;
  grpc::Status OnClientConnect(grpc::ServerContext* context,
                               const ::reitunnel::hook::v1::ClientConnectRequest* request,
                               ::reitunnel::hook::v1::DecisionResponse* response) override;
  grpc::Status OnClientDisconnect(grpc::ServerContext* context,
                                  const ::reitunnel::hook::v1::ClientDisconnectRequest* request,
                                  ::reitunnel::hook::v1::Ack* response) override;
  grpc::Status OnTunnelOpen(grpc::ServerContext* context,
                            const ::reitunnel::hook::v1::TunnelOpenRequest* request,
                            ::reitunnel::hook::v1::DecisionResponse* response) override;
  grpc::Status OnTunnelClose(grpc::ServerContext* context,
                             const ::reitunnel::hook::v1::TunnelCloseRequest* request,
                             ::reitunnel::hook::v1::Ack* response) override;
  grpc::Status StreamDataEvents(grpc::ServerContext* context,
                                grpc::ServerReader<::reitunnel::hook::v1::DataBatch>* reader,
                                ::reitunnel::hook::v1::Ack* response) override;
  grpc::Status OnError(grpc::ServerContext* context,
                       const ::reitunnel::hook::v1::ErrorEvent* request,
                       ::reitunnel::hook::v1::Ack* response) override;
  grpc::Status OnVisitorConnect(grpc::ServerContext* context,
                                const ::reitunnel::hook::v1::VisitorConnectRequest* request,
                                ::reitunnel::hook::v1::DecisionResponse* response) override;
  grpc::Status OnVisitorDisconnect(grpc::ServerContext* context,
                                   const ::reitunnel::hook::v1::VisitorDisconnectRequest* request,
                                   ::reitunnel::hook::v1::Ack* response) override;

 private:
  // Asks the hooks through `ask` and fills `response` by strategy_.
  template <typename Ask>
  grpc::Status Decide(grpc::ServerContext* context, const char* event, Ask ask,
                      ::reitunnel::hook::v1::DecisionResponse* response);
  // Calls `notify` on every hook.
  template <typename Notify>
  void NotifyAll(const char* event, Notify notify);

  const std::vector<Hook*> hooks_;
  const Strategy strategy_;
};

}  // namespace reitunnel::hookd::internal
