#pragma once

// Per-hook counters. Written on the dispatcher's thread, readable from any
// thread (admin API, metrics) without locks.

#include <array>
#include <atomic>
#include <cstdint>

namespace reitunnel::server {

struct HookStats {
  // Upper bounds (ms) of the latency histogram buckets; the last is +Inf.
  static constexpr std::array<double, 12> kLatencyBucketsMs = {
      0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000};

  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> allowed{0};
  std::atomic<uint64_t> denied{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> fail_open_allowances{0};
  std::atomic<uint64_t> notifications_sent{0};
  std::atomic<uint64_t> batches_sent{0};
  std::atomic<uint64_t> dropped_events{0};
  std::atomic<uint64_t> dropped_batches{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> queue_depth{0};
  std::array<std::atomic<uint64_t>, kLatencyBucketsMs.size() + 1> latency_buckets{};
  std::atomic<uint64_t> latency_sum_us{0};

  // Blocking-call outcomes per event (index = HookEvent) for metrics.
  enum OutcomeKind { kAllow = 0, kDeny = 1, kError = 2 };
  static constexpr int kEvents = 10;
  std::array<std::array<std::atomic<uint64_t>, 3>, kEvents> outcomes{};
  void Outcome(int event, OutcomeKind kind) {
    outcomes[event][kind].fetch_add(1, std::memory_order_relaxed);
  }

  void ObserveLatency(double ms) {
    size_t i = 0;
    while (i < kLatencyBucketsMs.size() && ms > kLatencyBucketsMs[i]) ++i;
    latency_buckets[i].fetch_add(1, std::memory_order_relaxed);
    latency_sum_us.fetch_add(static_cast<uint64_t>(ms * 1000), std::memory_order_relaxed);
  }
  // Approximate quantile (upper bound of the bucket holding it), in ms.
  double LatencyQuantileMs(double q) const {
    uint64_t total = 0;
    for (auto& b : latency_buckets) total += b.load(std::memory_order_relaxed);
    if (total == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total) + 0.5);
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < latency_buckets.size(); ++i) {
      seen += latency_buckets[i].load(std::memory_order_relaxed);
      if (seen >= rank) {
        return i < kLatencyBucketsMs.size() ? kLatencyBucketsMs[i] : kLatencyBucketsMs.back() * 2;
      }
    }
    return kLatencyBucketsMs.back() * 2;
  }
};

}  // namespace reitunnel::server
