#pragma once

// The dashboard's recent events: lifecycle events (agents, tunnels, errors)
// and visitor events in two bounded rings sharing one sequence, so a burst
// of visitors cannot push the last agent disconnect out of view. Readers
// poll with the last sequence they saw. Thread-safe.

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

#include "reitunnel/admin/v1/admin.pb.h"
#include "reitunnel/dashboard/v1/dashboard.pb.h"

namespace reitunnel::server::dashboard {

class EventLog {
 public:
  explicit EventLog(size_t lifecycle_capacity = 500, size_t visitor_capacity = 200)
      : lifecycle_capacity_(lifecycle_capacity), visitor_capacity_(visitor_capacity) {}

  void Append(admin::v1::Event event);
  // Events with seq > `after`, oldest first. An `after` beyond the last
  // seq (a page that outlived a restart) reads from the start.
  reitunnel::dashboard::v1::EventsResponse After(uint64_t after) const;

  // Since when events are recorded without a gap; nullopt while not.
  void SetRecordingSince(std::optional<std::chrono::system_clock::time_point> since);

 private:
  struct Ring {
    std::deque<reitunnel::dashboard::v1::RecordedEvent> events;
    uint64_t dropped_through = 0;  // highest seq evicted
  };
  void Push(Ring& ring, size_t capacity, reitunnel::dashboard::v1::RecordedEvent e);

  size_t lifecycle_capacity_;
  size_t visitor_capacity_;
  mutable std::mutex mu_;
  uint64_t last_seq_ = 0;
  Ring lifecycle_;
  Ring visitors_;
  std::optional<std::chrono::system_clock::time_point> recording_since_;
};

}  // namespace reitunnel::server::dashboard
