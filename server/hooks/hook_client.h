#pragma once

// The external call to one hook service, as an interface so the dispatcher's
// policy can be tested against a fake (fake_hook_client.h). Implementations
// may invoke callbacks on any thread and must be thread-safe: blocking
// decisions are asked from every worker.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/hooks/events.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/status.h"
#include "reitunnel/hook/v1/hook.pb.h"

namespace reitunnel::server {

using hooks::HookEvent;
using hooks::HookEventName;
using hooks::IsBlocking;
using hooks::kHookEventCount;

class HookClient {
 public:
  using DecisionCallback = std::function<void(grpc::Status, hook::v1::DecisionResponse)>;
  using DoneCallback = std::function<void(grpc::Status)>;
  using DescribeCallback = std::function<void(grpc::Status, hook::v1::DescribeResponse)>;

  virtual ~HookClient() = default;

  // A blocking event's RPC. `request` is the event's request message.
  virtual void Decide(HookEvent event, const google::protobuf::Message& request,
                      std::chrono::milliseconds timeout, DecisionCallback done) = 0;
  // A notification's RPC.
  virtual void Notify(HookEvent event, const google::protobuf::Message& request,
                      std::chrono::milliseconds timeout, DoneCallback done) = 0;
  // Which events the hook implements.
  virtual void Describe(const hook::v1::DescribeRequest& request, std::chrono::milliseconds timeout,
                        DescribeCallback done) = 0;
  // Writes one batch on the StreamDataEvents stream, opening it if needed.
  // A non-OK status means the stream broke; the next write reopens it.
  // At most one write is outstanding; called from one thread.
  virtual void WriteBatch(const hook::v1::DataBatch& batch, DoneCallback done) = 0;
  // Half-closes the stream and waits for the hook's answer (OK if no stream).
  virtual void FinishStream(DoneCallback done) = 0;
  // Cancels everything outstanding; callbacks still run, with CANCELLED.
  virtual void CancelAll() = 0;
  // "ready", "connecting", "failing", "idle", "shutdown".
  virtual std::string State() = 0;
};

}  // namespace reitunnel::server
