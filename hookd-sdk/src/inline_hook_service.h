#pragma once

// The HookService front end for Execution::kInline: gRPC's callback API, with
// every answer given from within the method handler, on the gRPC thread that
// delivered the call. That saves the hand-off to a worker thread that the
// synchronous server makes for each call, which is most of a veto's latency
// on a loaded machine; in exchange hook code must not block.

#include <memory>

#include "hook_dispatcher.h"
#include "reitunnel/hook/v1/hook.grpc.pb.h"

namespace reitunnel::hookd::internal {

class InlineHookService final : public ::reitunnel::hook::v1::HookService::CallbackService {
 public:
  explicit InlineHookService(std::unique_ptr<const HookDispatcher> dispatcher)
      : dispatcher_(std::move(dispatcher)) {}

  grpc::ServerUnaryReactor* OnServerStart(
      grpc::CallbackServerContext* context,
      const ::reitunnel::hook::v1::ServerStartRequest* request,
      ::reitunnel::hook::v1::DecisionResponse* response) override;
  grpc::ServerUnaryReactor* OnServerStop(grpc::CallbackServerContext* context,
                                         const ::reitunnel::hook::v1::ServerStopRequest* request,
                                         ::reitunnel::hook::v1::Ack* response) override;
  grpc::ServerUnaryReactor* OnClientConnect(
      grpc::CallbackServerContext* context,
      const ::reitunnel::hook::v1::ClientConnectRequest* request,
      ::reitunnel::hook::v1::DecisionResponse* response) override;
  grpc::ServerUnaryReactor* OnClientDisconnect(
      grpc::CallbackServerContext* context,
      const ::reitunnel::hook::v1::ClientDisconnectRequest* request,
      ::reitunnel::hook::v1::Ack* response) override;
  grpc::ServerUnaryReactor* OnTunnelOpen(
      grpc::CallbackServerContext* context, const ::reitunnel::hook::v1::TunnelOpenRequest* request,
      ::reitunnel::hook::v1::DecisionResponse* response) override;
  grpc::ServerUnaryReactor* OnTunnelClose(grpc::CallbackServerContext* context,
                                          const ::reitunnel::hook::v1::TunnelCloseRequest* request,
                                          ::reitunnel::hook::v1::Ack* response) override;
  grpc::ServerReadReactor<::reitunnel::hook::v1::DataBatch>* StreamDataEvents(
      grpc::CallbackServerContext* context, ::reitunnel::hook::v1::Ack* response) override;
  grpc::ServerUnaryReactor* OnError(grpc::CallbackServerContext* context,
                                    const ::reitunnel::hook::v1::ErrorEvent* request,
                                    ::reitunnel::hook::v1::Ack* response) override;
  grpc::ServerUnaryReactor* OnVisitorConnect(
      grpc::CallbackServerContext* context,
      const ::reitunnel::hook::v1::VisitorConnectRequest* request,
      ::reitunnel::hook::v1::DecisionResponse* response) override;
  grpc::ServerUnaryReactor* OnVisitorDisconnect(
      grpc::CallbackServerContext* context,
      const ::reitunnel::hook::v1::VisitorDisconnectRequest* request,
      ::reitunnel::hook::v1::Ack* response) override;
  grpc::ServerUnaryReactor* Describe(grpc::CallbackServerContext* context,
                                     const ::reitunnel::hook::v1::DescribeRequest* request,
                                     ::reitunnel::hook::v1::DescribeResponse* response) override;

 private:
  const std::unique_ptr<const HookDispatcher> dispatcher_;
};

}  // namespace reitunnel::hookd::internal
