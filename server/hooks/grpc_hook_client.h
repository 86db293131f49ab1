#pragma once

// HookClient over gRPC. Blocking decisions use the async API on a dedicated
// completion-queue thread (lowest latency); notifications, Describe and the
// StreamDataEvents stream use the callback API (one reactor per stream).
//
// Lifetime: every call and reactor holds the shared Core, never this object,
// so destroying the client while a reactor's OnDone is still on its way is
// safe by construction: the destructor cancels and returns.

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
#include "server/hooks/hook_completion_queue.h"

namespace reitunnel::server {

class GrpcHookClient : public HookClient {
 public:
  // Builds the channel: round-robin over resolved addresses (dns:///), quick
  // reconnects so a restarted hook is picked up within about a second, and
  // TLS/mTLS when configured. `cq` carries blocking decisions; shared by the
  // hooks of one server.
  static absl::StatusOr<std::unique_ptr<GrpcHookClient>> Create(
      const config::v1::HookConfig& cfg, std::shared_ptr<HookCompletionQueue> cq);
  ~GrpcHookClient() override;

  void Decide(HookEvent event, const google::protobuf::Message& request,
              std::chrono::milliseconds timeout, DecisionCallback done) override;
  void Notify(HookEvent event, const google::protobuf::Message& request,
              std::chrono::milliseconds timeout, DoneCallback done) override;
  void Describe(const hook::v1::DescribeRequest& request, std::chrono::milliseconds timeout,
                DescribeCallback done) override;
  void WriteBatch(const hook::v1::DataBatch& batch, DoneCallback done) override;
  void FinishStream(DoneCallback done) override;
  void CancelAll() override;
  std::string State() override;

  struct Core;

 private:
  class DataStream;
  GrpcHookClient(std::shared_ptr<grpc::Channel> channel, std::shared_ptr<HookCompletionQueue> cq);

  std::shared_ptr<Core> core_;
  std::shared_ptr<HookCompletionQueue> cq_;
  DataStream* stream_ = nullptr;  // only touched by the dispatcher's thread
};

}  // namespace reitunnel::server
