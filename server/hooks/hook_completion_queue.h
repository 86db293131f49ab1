#pragma once

// One thread that does nothing but wait on a gRPC completion queue. Blocking
// hook decisions complete here and are posted straight to the worker that
// asked: no hop through gRPC's callback executor, whose threads sleep when
// idle and cost a wake-up per call on a slow machine.

#include <thread>

#include "grpcpp/completion_queue.h"

namespace reitunnel::server {

class HookCompletionQueue {
 public:
  // Completion tags are pointers to objects implementing this.
  class Tag {
   public:
    virtual ~Tag() = default;
    // Runs on the queue's thread; usually posts and deletes itself.
    virtual void Done(bool ok) = 0;
  };

  HookCompletionQueue();
  // Shuts the queue down; every operation started on it must have been
  // cancelled or completed (their tags still run).
  ~HookCompletionQueue();
  HookCompletionQueue(const HookCompletionQueue&) = delete;
  HookCompletionQueue& operator=(const HookCompletionQueue&) = delete;

  grpc::CompletionQueue* cq() { return &cq_; }

 private:
  grpc::CompletionQueue cq_;
  std::thread thread_;
};

}  // namespace reitunnel::server
