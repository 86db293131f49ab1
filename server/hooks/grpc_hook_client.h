#pragma once

// HookClient over gRPC (callback API). Unary RPCs for decisions and
// notifications, one client-streaming reactor for data batches.

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "reitunnel/config/v1/server.pb.h"
#include "reitunnel/hook/v1/hook.grpc.pb.h"
#include "server/hooks/hook_client.h"

namespace reitunnel::server {

class GrpcHookClient : public HookClient {
 public:
  // Builds the channel: round-robin over resolved addresses (dns:///), quick
  // reconnects so a restarted hook is picked up within about a second, and
  // TLS/mTLS when configured.
  static absl::StatusOr<std::unique_ptr<GrpcHookClient>> Create(
      const config::v1::HookConfig& cfg);
  ~GrpcHookClient() override;

  void Decide(HookEvent event, const google::protobuf::Message& request,
              std::chrono::milliseconds timeout, DecisionCallback done) override;
  void Notify(HookEvent event, const google::protobuf::Message& request,
              std::chrono::milliseconds timeout, DoneCallback done) override;
  void WriteBatch(const hook::v1::DataBatch& batch, DoneCallback done) override;
  void FinishStream(DoneCallback done) override;
  void CancelAll() override;
  std::string State() override;

 private:
  class DataStream;
  explicit GrpcHookClient(std::shared_ptr<grpc::Channel> channel);
  grpc::ClientContext* Track(std::unique_ptr<grpc::ClientContext>& ctx);
  void Untrack(grpc::ClientContext* ctx);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<hook::v1::HookService::Stub> stub_;
  std::mutex mu_;
  std::set<grpc::ClientContext*> outstanding_;  // guarded by mu_
  std::set<DataStream*> streams_;               // guarded by mu_; alive until OnDone
  DataStream* stream_ = nullptr;                // only touched by the caller's thread
};

}  // namespace reitunnel::server
