#pragma once

// One thread that does nothing but wait on a gRPC completion queue. Blocking
// hook decisions complete here and are posted straight to the worker that
// asked: no hop through gRPC's callback executor, whose threads sleep when
// idle and cost a wake-up per call on a slow machine.

#include <thread>

#include "grpcpp/completion_queue.h"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

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

  // Call with a tag just before handing it to the queue. The queue orders
  // the hand-off inside uninstrumented gRPC; this tells ThreadSanitizer so
  // (a no-op in other builds), so the tag's fields, written by a worker and
  // read on the queue's thread, are not reported as a race.
  static void Publish(Tag* tag) {
#if defined(__SANITIZE_THREAD__)
    __tsan_release(tag);
#else
    (void)tag;
#endif
  }

 private:
  grpc::CompletionQueue cq_;
  std::thread thread_;
};

}  // namespace reitunnel::server
