#pragma once

// Logging of rejected connections that a flood cannot turn into a log flood:
// the first rejection per (source, reason) in an interval is logged at once,
// the rest are counted and summarized in one line per source and reason
// when the interval ends. Thread-safe.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace reitunnel::server {

class RejectLog {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RejectLog(std::chrono::milliseconds interval = std::chrono::seconds(10),
                     size_t max_sources = 4096)
      : interval_(interval), max_sources_(max_sources) {}

  // `source` is the address aggregated on (an IP), `peer` the connection's
  // own "ip:port". `level_warn`: log the first one at warn (else info).
  // With --log-level=debug every rejection is logged, with its peer. True
  // when this one was logged (callers report only those elsewhere, e.g. to
  // hooks).
  bool Record(const std::string& source, const std::string& peer, const std::string& reason,
              bool level_warn = true);
  // Emits the summaries of intervals that ended; call periodically.
  void Flush(bool force = false);

  uint64_t total() const;

 private:
  struct Entry {
    Clock::time_point window_start;
    uint64_t suppressed = 0;
    bool warn = true;
  };
  std::chrono::milliseconds interval_;
  size_t max_sources_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Entry> entries_;
  uint64_t overflow_suppressed_ = 0;
  uint64_t total_ = 0;
};

}  // namespace reitunnel::server
