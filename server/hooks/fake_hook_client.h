#pragma once

// In-process HookClient for tests: records every call in order and answers
// from a script. Callbacks run inline (synchronously) unless `defer` is set,
// in which case they are queued until Release() so tests can hold a call.
// Thread-safe, like the real client.

#include <deque>
#include <functional>
#include <mutex>
#include <optional>
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
  // Describe's answer: nullopt answers UNIMPLEMENTED (a hook without
  // Describe), else the listed events.
  std::optional<std::vector<std::string>> implemented;
  grpc::Status describe_status = grpc::Status::OK;
  std::string state = "ready";
  bool defer = false;

  void Decide(HookEvent event, const google::protobuf::Message& request,
              std::chrono::milliseconds, DecisionCallback done) override {
    hook::v1::DecisionResponse resp;
    grpc::Status s;
    {
      std::lock_guard<std::mutex> l(mu_);
      calls_.push_back({event, request.SerializeAsString()});
      resp.set_decision(decision);
      resp.set_reason(reason);
      s = decide_status;
    }
    Run([done, s, resp] { done(s, resp); });
  }
  void Notify(HookEvent event, const google::protobuf::Message& request,
              std::chrono::milliseconds, DoneCallback done) override {
    grpc::Status s;
    {
      std::lock_guard<std::mutex> l(mu_);
      calls_.push_back({event, request.SerializeAsString()});
      s = NextNotifyStatus();
    }
    Run([done, s] { done(s); });
  }
  void Describe(const hook::v1::DescribeRequest&, std::chrono::milliseconds,
                DescribeCallback done) override {
    hook::v1::DescribeResponse resp;
    grpc::Status s;
    {
      std::lock_guard<std::mutex> l(mu_);
      describes_++;
      s = describe_status;
      if (s.ok() && !implemented) s = grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no Describe");
      if (implemented) {
        for (auto& e : *implemented) resp.add_events(e);
      }
    }
    Run([done, s, resp] { done(s, resp); });
  }
  void WriteBatch(const hook::v1::DataBatch& batch, DoneCallback done) override {
    grpc::Status s;
    {
      std::lock_guard<std::mutex> l(mu_);
      calls_.push_back({HookEvent::kData, batch.SerializeAsString()});
      s = NextNotifyStatus();
      if (s.ok()) batches_.push_back(batch);
    }
    Run([done, s] { done(s); });
  }
  void FinishStream(DoneCallback done) override { Run([done] { done(grpc::Status::OK); }); }
  void CancelAll() override {}
  std::string State() override {
    std::lock_guard<std::mutex> l(mu_);
    return state;
  }

  // Runs deferred callbacks.
  void Release() {
    std::vector<std::function<void()>> pending;
    {
      std::lock_guard<std::mutex> l(mu_);
      pending = std::move(pending_);
      pending_.clear();
    }
    for (auto& f : pending) f();
  }
  size_t pending() const {
    std::lock_guard<std::mutex> l(mu_);
    return pending_.size();
  }
  std::vector<Call> calls() const {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }
  std::vector<hook::v1::DataBatch> batches() const {
    std::lock_guard<std::mutex> l(mu_);
    return batches_;
  }
  int describes() const {
    std::lock_guard<std::mutex> l(mu_);
    return describes_;
  }
  // Script changes while the dispatcher may be calling (tests set fields
  // directly before building; these are for later changes).
  template <typename F>
  void Update(F f) {
    std::lock_guard<std::mutex> l(mu_);
    f(*this);
  }

 private:
  grpc::Status NextNotifyStatus() {
    if (notify_script.empty()) return notify_status;
    grpc::Status s = notify_script.front();
    notify_script.pop_front();
    return s;
  }
  void Run(std::function<void()> f) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (defer) {
        pending_.push_back(std::move(f));
        return;
      }
    }
    f();
  }
  mutable std::mutex mu_;
  std::vector<Call> calls_;
  std::vector<hook::v1::DataBatch> batches_;
  std::vector<std::function<void()>> pending_;
  int describes_ = 0;
};

}  // namespace reitunnel::server
