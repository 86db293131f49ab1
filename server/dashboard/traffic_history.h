#pragma once

// Server-wide traffic over the last minutes and each open tunnel's current
// rate, from counter samples taken once per period (the dashboard's own
// thread reads the registry's atomics; nothing waits for the data plane).
// Rates are differences of successive samples over their monotonic time
// distance, so a late timer does not inflate them. Bounded: `capacity`
// points, and one entry per open tunnel. Thread-safe.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace reitunnel::server::dashboard {

struct TrafficCounters {
  uint64_t bytes_in = 0;   // since start, including closed tunnels
  uint64_t bytes_out = 0;
  uint64_t active_visitors = 0;
  uint32_t clients = 0;
  uint32_t tunnels = 0;
  struct Tunnel {
    std::string tunnel_id;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
  };
  std::vector<Tunnel> per_tunnel;
};

struct TrafficPoint {
  std::chrono::system_clock::time_point time;
  TrafficCounters totals;  // per_tunnel left empty
  double in_bps = 0;
  double out_bps = 0;
};

struct TunnelRateValue {
  double in_bps = 0;
  double out_bps = 0;
};

class TrafficHistory {
 public:
  explicit TrafficHistory(size_t capacity = 600) : capacity_(capacity) {}

  void Record(std::chrono::steady_clock::time_point mono, std::chrono::system_clock::time_point wall,
              TrafficCounters counters);

  // Oldest first.
  std::vector<TrafficPoint> Points() const;
  // By tunnel id; tunnels seen in only one sample so far have rate 0.
  std::map<std::string, TunnelRateValue> Rates() const;

 private:
  struct TunnelPrev {
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    TunnelRateValue rate;
  };

  size_t capacity_;
  mutable std::mutex mu_;
  std::deque<TrafficPoint> points_;
  std::chrono::steady_clock::time_point last_mono_;
  std::map<std::string, TunnelPrev> tunnels_;
};

}  // namespace reitunnel::server::dashboard
