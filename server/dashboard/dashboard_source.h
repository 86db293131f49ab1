#pragma once

// What the dashboard shows, behind an interface so the HTTP handler can be
// tested against a fake. The real one (server_source.h) reads the server's
// registry, counters, hooks and bans.

#include <cstdint>

#include "reitunnel/dashboard/v1/dashboard.pb.h"

namespace reitunnel::server::dashboard {

class DashboardSource {
 public:
  virtual ~DashboardSource() = default;
  virtual reitunnel::dashboard::v1::Overview Overview() = 0;
  virtual reitunnel::dashboard::v1::EventsResponse Events(uint64_t after) = 0;
  // Someone authenticated is looking (event recording follows viewers).
  virtual void OnViewer() {}
};

}  // namespace reitunnel::server::dashboard
