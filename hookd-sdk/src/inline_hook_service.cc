#include "inline_hook_service.h"

namespace reitunnel::hookd::internal {
namespace {

namespace pb = ::reitunnel::hook::v1;

grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context, grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

// Reads the server's data stream, handing each batch to the hooks from the
// read callback itself. The stream ends when the server half-closes it (the
// normal end) or the call is cancelled (server gone, HookServer shutting
// down); either way every batch that arrived has been dispatched.
class DataStreamReader final : public grpc::ServerReadReactor<pb::DataBatch> {
 public:
  explicit DataStreamReader(const HookDispatcher& dispatcher) : dispatcher_(dispatcher) {
    StartRead(&batch_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    dispatcher_.OnDataBatch(batch_);
    StartRead(&batch_);
  }

  void OnDone() override { delete this; }

 private:
  const HookDispatcher& dispatcher_;
  pb::DataBatch batch_;
};

// Ends a data stream at once, e.g. UNIMPLEMENTED when no hook takes data.
class DataStreamRefusal final : public grpc::ServerReadReactor<pb::DataBatch> {
 public:
  explicit DataStreamRefusal(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerUnaryReactor* InlineHookService::OnServerStart(grpc::CallbackServerContext* context,
                                                           const pb::ServerStartRequest* request,
                                                           pb::DecisionResponse* response) {
  return Answer(context, dispatcher_->OnServerStart(*context, *request, response));
}

grpc::ServerUnaryReactor* InlineHookService::OnClientConnect(
    grpc::CallbackServerContext* context, const pb::ClientConnectRequest* request,
    pb::DecisionResponse* response) {
  return Answer(context, dispatcher_->OnClientConnect(*context, *request, response));
}

grpc::ServerUnaryReactor* InlineHookService::OnTunnelOpen(grpc::CallbackServerContext* context,
                                                          const pb::TunnelOpenRequest* request,
                                                          pb::DecisionResponse* response) {
  return Answer(context, dispatcher_->OnTunnelOpen(*context, *request, response));
}

grpc::ServerUnaryReactor* InlineHookService::OnVisitorConnect(
    grpc::CallbackServerContext* context, const pb::VisitorConnectRequest* request,
    pb::DecisionResponse* response) {
  return Answer(context, dispatcher_->OnVisitorConnect(*context, *request, response));
}

grpc::ServerUnaryReactor* InlineHookService::OnServerStop(grpc::CallbackServerContext* context,
                                                          const pb::ServerStopRequest* request,
                                                          pb::Ack*) {
  return Answer(context, dispatcher_->OnServerStop(*request));
}

grpc::ServerUnaryReactor* InlineHookService::OnClientDisconnect(
    grpc::CallbackServerContext* context, const pb::ClientDisconnectRequest* request, pb::Ack*) {
  return Answer(context, dispatcher_->OnClientDisconnect(*request));
}

grpc::ServerUnaryReactor* InlineHookService::OnTunnelClose(grpc::CallbackServerContext* context,
                                                           const pb::TunnelCloseRequest* request,
                                                           pb::Ack*) {
  return Answer(context, dispatcher_->OnTunnelClose(*request));
}

grpc::ServerUnaryReactor* InlineHookService::OnError(grpc::CallbackServerContext* context,
                                                     const pb::ErrorEvent* request, pb::Ack*) {
  return Answer(context, dispatcher_->OnError(*request));
}

grpc::ServerUnaryReactor* InlineHookService::OnVisitorDisconnect(
    grpc::CallbackServerContext* context, const pb::VisitorDisconnectRequest* request, pb::Ack*) {
  return Answer(context, dispatcher_->OnVisitorDisconnect(*request));
}

grpc::ServerReadReactor<pb::DataBatch>* InlineHookService::StreamDataEvents(
    grpc::CallbackServerContext*, pb::Ack*) {
  if (grpc::Status status = dispatcher_->StartDataStream(); !status.ok()) {
    return new DataStreamRefusal(std::move(status));
  }
  return new DataStreamReader(*dispatcher_);
}

grpc::ServerUnaryReactor* InlineHookService::Describe(grpc::CallbackServerContext* context,
                                                      const pb::DescribeRequest*,
                                                      pb::DescribeResponse* response) {
  dispatcher_->Describe(response);
  return Answer(context, grpc::Status::OK);
}

}  // namespace reitunnel::hookd::internal
