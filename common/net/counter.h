#pragma once

// A monotonic counter with one writer thread and any number of readers.
// The writer's increment is a plain load+store (no locked instruction on the
// hot path); readers on other threads see a recent value without tearing.

#include <atomic>
#include <cstdint>

namespace reitunnel::net {

class Counter {
 public:
  void Add(uint64_t n) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

}  // namespace reitunnel::net
