#include "threaded_hook_service.h"

namespace reitunnel::hookd::internal {

namespace pb = ::reitunnel::hook::v1;

grpc::Status ThreadedHookService::OnServerStart(grpc::ServerContext* context,
                                                const pb::ServerStartRequest* request,
                                                pb::DecisionResponse* response) {
  return dispatcher_->OnServerStart(*context, *request, response);
}

grpc::Status ThreadedHookService::OnClientConnect(grpc::ServerContext* context,
                                                  const pb::ClientConnectRequest* request,
                                                  pb::DecisionResponse* response) {
  return dispatcher_->OnClientConnect(*context, *request, response);
}

grpc::Status ThreadedHookService::OnTunnelOpen(grpc::ServerContext* context,
                                               const pb::TunnelOpenRequest* request,
                                               pb::DecisionResponse* response) {
  return dispatcher_->OnTunnelOpen(*context, *request, response);
}

grpc::Status ThreadedHookService::OnVisitorConnect(grpc::ServerContext* context,
                                                   const pb::VisitorConnectRequest* request,
                                                   pb::DecisionResponse* response) {
  return dispatcher_->OnVisitorConnect(*context, *request, response);
}

grpc::Status ThreadedHookService::OnServerStop(grpc::ServerContext*,
                                               const pb::ServerStopRequest* request, pb::Ack*) {
  return dispatcher_->OnServerStop(*request);
}

grpc::Status ThreadedHookService::OnClientDisconnect(grpc::ServerContext*,
                                                     const pb::ClientDisconnectRequest* request,
                                                     pb::Ack*) {
  return dispatcher_->OnClientDisconnect(*request);
}

grpc::Status ThreadedHookService::OnTunnelClose(grpc::ServerContext*,
                                                const pb::TunnelCloseRequest* request, pb::Ack*) {
  return dispatcher_->OnTunnelClose(*request);
}

grpc::Status ThreadedHookService::OnError(grpc::ServerContext*, const pb::ErrorEvent* request,
                                          pb::Ack*) {
  return dispatcher_->OnError(*request);
}

grpc::Status ThreadedHookService::OnVisitorDisconnect(grpc::ServerContext*,
                                                      const pb::VisitorDisconnectRequest* request,
                                                      pb::Ack*) {
  return dispatcher_->OnVisitorDisconnect(*request);
}

grpc::Status ThreadedHookService::StreamDataEvents(grpc::ServerContext*,
                                                   grpc::ServerReader<pb::DataBatch>* reader,
                                                   pb::Ack*) {
  if (grpc::Status status = dispatcher_->StartDataStream(); !status.ok()) return status;
  // Read() fails once the server half-closes the stream (the normal end) or
  // the call is cancelled (server gone, HookServer shutting down); either way
  // every batch that arrived has been dispatched.
  pb::DataBatch batch;
  while (reader->Read(&batch)) dispatcher_->OnDataBatch(batch);
  return grpc::Status::OK;
}

grpc::Status ThreadedHookService::Describe(grpc::ServerContext*, const pb::DescribeRequest*,
                                           pb::DescribeResponse* response) {
  dispatcher_->Describe(response);
  return grpc::Status::OK;
}

}  // namespace reitunnel::hookd::internal
