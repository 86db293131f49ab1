#pragma once

// The external call to one hook service, as an interface so the dispatcher's
// policy can be tested against a fake (fake_hook_client.h). Implementations
// may invoke callbacks on any thread; the dispatcher posts them back to its
// own executor.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/status.h"
#include "reitunnel/hook/v1/hook.pb.h"

namespace reitunnel::server {

enum class HookEvent {
  kServerStart,
  kServerStop,
  kClientConnect,
  kClientDisconnect,
  kTunnelOpen,
  kTunnelClose,
  kData,
  kError,
  kVisitorConnect,
  kVisitorDisconnect,
};
inline constexpr int kHookEventCount = 10;

// "tunnel_open" etc., as used in config `events:` lists and metrics.
std::string_view HookEventName(HookEvent e);
absl::StatusOr<HookEvent> ParseHookEvent(std::string_view name);
bool IsBlocking(HookEvent e);

class HookClient {
 public:
  using DecisionCallback = std::function<void(grpc::Status, hook::v1::DecisionResponse)>;
  using DoneCallback = std::function<void(grpc::Status)>;

  virtual ~HookClient() = default;

  // A blocking event's RPC. `request` is the event's request message.
  virtual void Decide(HookEvent event, const google::protobuf::Message& request,
                      std::chrono::milliseconds timeout, DecisionCallback done) = 0;
  // A notification's RPC.
  virtual void Notify(HookEvent event, const google::protobuf::Message& request,
                      std::chrono::milliseconds timeout, DoneCallback done) = 0;
  // Writes one batch on the StreamDataEvents stream, opening it if needed.
  // A non-OK status means the stream broke; the next write reopens it.
  // At most one write is outstanding.
  virtual void WriteBatch(const hook::v1::DataBatch& batch, DoneCallback done) = 0;
  // Half-closes the stream and waits for the hook's answer (OK if no stream).
  virtual void FinishStream(DoneCallback done) = 0;
  // Cancels everything outstanding; callbacks still run, with CANCELLED.
  virtual void CancelAll() = 0;
  // "ready", "connecting", "failing", "idle".
  virtual std::string State() = 0;
};

}  // namespace reitunnel::server
