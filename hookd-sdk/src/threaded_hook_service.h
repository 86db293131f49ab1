#pragma once

// The HookService front end for Execution::kThreadPool: gRPC's synchronous
// API, on purpose. Hook code is user code that may block (a database
// lookup), and the sync server runs each call on a thread of its own pool, so
// a slow hook holds one thread instead of stalling a callback thread shared
// with other calls.

#include <memory>

#include "hook_dispatcher.h"
#include "reitunnel/hook/v1/hook.grpc.pb.h"

namespace reitunnel::hookd::internal {

class ThreadedHookService final : public ::reitunnel::hook::v1::HookService::Service {
 public:
  explicit ThreadedHookService(std::unique_ptr<const HookDispatcher> dispatcher)
      : dispatcher_(std::move(dispatcher)) {}

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
  grpc::Status Describe(grpc::ServerContext* context,
                        const ::reitunnel::hook::v1::DescribeRequest* request,
                        ::reitunnel::hook::v1::DescribeResponse* response) override;

 private:
  const std::unique_ptr<const HookDispatcher> dispatcher_;
};

}  // namespace reitunnel::hookd::internal
