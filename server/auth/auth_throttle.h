#pragma once

// Brute-force resistance: failed authentications are counted per source
// address. Past a few failures a source is blocked for a while (doubling on
// repeat offences, capped): its control handshakes are refused without
// checking the proof, and new connections from it are closed at accept
// unless it also has an established session (its data connections keep
// working). Thread-safe; bounded memory.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace reitunnel::server {

struct AuthThrottleOptions {
  // Failures within `window` that trigger a block.
  uint32_t max_failures = 5;
  std::chrono::milliseconds window{60000};
  std::chrono::milliseconds first_block{5000};
  std::chrono::milliseconds max_block{300000};
  size_t max_sources = 65536;
};

class AuthThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit AuthThrottle(AuthThrottleOptions o = {}) : o_(o) {}

  // How long the source stays blocked (0: not blocked).
  std::chrono::milliseconds BlockedFor(const std::string& ip);
  // Records a failure; returns the block it started, if it started one.
  std::chrono::milliseconds RecordFailure(const std::string& ip);
  void RecordSuccess(const std::string& ip);

  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  void CountRefused() { refused_.fetch_add(1, std::memory_order_relaxed); }
  // SIGHUP: new thresholds for the next failures; blocks in force stay.
  void SetOptions(AuthThrottleOptions o) {
    std::lock_guard<std::mutex> l(mu_);
    o_ = o;
  }

  // For tests.
  void set_clock_for_testing(Clock::time_point (*now)()) { now_ = now; }

 private:
  struct Entry {
    uint32_t failures = 0;
    Clock::time_point window_start;
    Clock::time_point blocked_until;
    uint32_t blocks = 0;  // offences so far: doubles the next block
    Clock::time_point last_seen;
  };
  void Evict(Clock::time_point now);  // mu_ held

  AuthThrottleOptions o_;  // guarded by mu_
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> refused_{0};
  Clock::time_point (*now_)() = &Clock::now;
};

}  // namespace reitunnel::server
