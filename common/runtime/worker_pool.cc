#include "common/runtime/worker_pool.h"

#include <pthread.h>

#include <exception>

#include "common/log/log.h"

namespace reitunnel::runtime {
namespace {
thread_local int current_worker = -1;
}  // namespace

WorkerPool::WorkerPool(int n, std::string name) : name_(std::move(name)) {
  if (n < 1) n = 1;
  for (int i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>());
}

WorkerPool::~WorkerPool() {
  Stop();
  Join();
  Shutdown();
}

void WorkerPool::Shutdown() {
  for (auto& w : workers_) {
    if (w->thread.joinable()) return;  // still running: not safe
  }
  for (auto& w : workers_) w->io.shutdown();
}

void WorkerPool::Start() {
  for (int i = 0; i < size(); ++i) {
    Worker* w = workers_[i].get();
    if (w->thread.joinable()) continue;
    w->thread = std::thread([this, w, i] {
      current_worker = i;
      std::string tname = name_ + "-" + std::to_string(i);
      pthread_setname_np(pthread_self(), tname.substr(0, 15).c_str());
      for (;;) {
        try {
          w->io.run();
          return;
        } catch (const std::exception& e) {
          // Handlers are not supposed to throw (coroutines are spawned with
          // a logging completion handler); keep the loop alive regardless.
          log::Error("worker_handler_threw", "a handler threw out of the event loop",
                     {{"worker", i}, {"error", e.what()}});
        }
      }
    });
  }
}

void WorkerPool::Stop() {
  for (auto& w : workers_) {
    w->guard.reset();
    w->io.stop();
  }
}

void WorkerPool::Join() {
  for (auto& w : workers_) {
    if (w->thread.joinable() && w->thread.get_id() != std::this_thread::get_id()) w->thread.join();
  }
}

int WorkerPool::CurrentIndex() { return current_worker; }

}  // namespace reitunnel::runtime
