#include "server/hooks/hook_completion_queue.h"

#include <pthread.h>

namespace reitunnel::server {

HookCompletionQueue::HookCompletionQueue() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "hook-cq");
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) {
#if defined(__SANITIZE_THREAD__)
      __tsan_acquire(tag);  // pairs with Publish()
#endif
      static_cast<Tag*>(tag)->Done(ok);
    }
  });
}

HookCompletionQueue::~HookCompletionQueue() {
  cq_.Shutdown();
  thread_.join();
}

}  // namespace reitunnel::server
