#pragma once

// How many idle data connections ("spares") the agent keeps open towards
// the server, so a visitor finds one instead of waiting for a TCP and auth
// handshake. Starts at the server's pool size; each visitor that found the
// pool empty raises the target (to at most kMaxSpares), and a heartbeat with
// no such demand halves the excess. Thread-safe: links on every worker count
// themselves in and out.

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace reitunnel::client {

class SpareLinks {
 public:
  static constexpr uint32_t kMaxSpares = 64;

  explicit SpareLinks(uint32_t base) : base_(std::clamp<uint32_t>(base, 1, kMaxSpares)) {
    target_.store(base_);
  }

  uint32_t base() const { return base_; }
  uint32_t target() const { return target_.load(); }
  int spares() const { return spares_.load(); }

  // The server asked for `n` more (visitors are waiting).
  void Demand(uint32_t n) {
    demand_.store(true);
    uint32_t t = target_.load();
    while (!target_.compare_exchange_weak(t, std::min(kMaxSpares, t + std::min(n, kMaxSpares)))) {
    }
  }
  // A heartbeat passed; returns how many idle spares are now surplus.
  uint32_t Heartbeat() {
    if (!demand_.exchange(false)) {
      uint32_t t = target_.load();
      if (t > base_) target_.store(std::max(base_, t / 2));
    }
    int s = spares_.load();
    uint32_t t = target_.load();
    return s > static_cast<int>(t) ? static_cast<uint32_t>(s) - t : 0;
  }
  // Claims one slot to open a new spare; false when there are enough.
  bool TryOpenOne() {
    int s = spares_.load();
    while (s < static_cast<int>(target_.load())) {
      if (spares_.compare_exchange_weak(s, s + 1)) return true;
    }
    return false;
  }
  // A spare went into use, failed, or was retired.
  void Leave() { spares_.fetch_sub(1); }
  // A link came back idle after relaying a visitor.
  void Return() { spares_.fetch_add(1); }

 private:
  uint32_t base_;
  std::atomic<uint32_t> target_{1};
  std::atomic<int> spares_{0};
  std::atomic<bool> demand_{false};
};

}  // namespace reitunnel::client
