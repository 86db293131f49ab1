#pragma once

// The number of visitors being relayed, server-wide, and a wake-up when it
// drops to zero (the drain waits on it instead of polling).

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>

namespace reitunnel::server {

class ActiveVisitors {
 public:
  void Inc() { n_.fetch_add(1, std::memory_order_relaxed); }
  void Dec() {
    if (n_.fetch_sub(1, std::memory_order_acq_rel) == 1) Fire();
  }
  uint64_t count() const { return n_.load(std::memory_order_relaxed); }
  // `f` runs once, on whichever thread ends the last visitor (or at once
  // when there is none). It should only post.
  void NotifyWhenIdle(std::function<void()> f) {
    {
      std::lock_guard<std::mutex> l(mu_);
      waiter_ = std::move(f);
    }
    if (count() == 0) Fire();
  }

 private:
  void Fire() {
    std::function<void()> f;
    {
      std::lock_guard<std::mutex> l(mu_);
      f = std::move(waiter_);
      waiter_ = nullptr;
    }
    if (f) f();
  }
  std::atomic<uint64_t> n_{0};
  std::mutex mu_;
  std::function<void()> waiter_;
};

}  // namespace reitunnel::server
