#pragma once

// In-process HookClient for tests: records every call in order and answers
// from a script. Callbacks run inline (synchronously) unless `defer` is set,
// in which case they are queued until Release() so tests can hold a call.

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "server/hooks/hook_client.h"

namespace reitunnel::server {

class FakeHookClient : public HookClient {
 public:
  struct Call {
    HookEvent event;
    std::string request;  // serialized request, for inspection
  };

  // Answer for blocking events: status, then decision (if status is OK).
  grpc::Status decide_status = grpc::Status::OK;
  hook::v1::Decision decision = hook::v1::ALLOW;
  std::string reason;
  // Status returned by notifications and batch writes; consumed front first,
  // then `notify_status` forever.
  std::deque<grpc::Status> notify_script;
  grpc::Status notify_status = grpc::Status::OK;
  bool defer = false;

  std::vector<Call> calls;
  std::vector<hook::v1::DataBatch> batches;

  void Decide(HookEvent event, const google::protobuf::Message& request,
              std::chrono::milliseconds, DecisionCallback done) override {
    calls.push_back({event, request.SerializeAsString()});
    hook::v1::DecisionResponse resp;
    resp.set_decision(decision);
    resp.set_reason(reason);
    Run([done, s = decide_status, resp] { done(s, resp); });
  }
  void Notify(HookEvent event, const google::protobuf::Message& request,
              std::chrono::milliseconds, DoneCallback done) override {
    calls.push_back({event, request.SerializeAsString()});
    Run([done, s = NextNotifyStatus()] { done(s); });
  }
  void WriteBatch(const hook::v1::DataBatch& batch, DoneCallback done) override {
    calls.push_back({HookEvent::kData, batch.SerializeAsString()});
    grpc::Status s = NextNotifyStatus();
    if (s.ok()) batches.push_back(batch);
    Run([done, s] { done(s); });
  }
  void FinishStream(DoneCallback done) override { Run([done] { done(grpc::Status::OK); }); }
  void CancelAll() override {}
  std::string State() override { return "ready"; }

  // Runs deferred callbacks.
  void Release() {
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& f : pending) f();
  }
  size_t pending() const { return pending_.size(); }

 private:
  grpc::Status NextNotifyStatus() {
    if (notify_script.empty()) return notify_status;
    grpc::Status s = notify_script.front();
    notify_script.pop_front();
    return s;
  }
  void Run(std::function<void()> f) {
    if (defer) {
      pending_.push_back(std::move(f));
    } else {
      f();
    }
  }
  std::vector<std::function<void()>> pending_;
};

}  // namespace reitunnel::server
