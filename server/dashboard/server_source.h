#pragma once

// The dashboard's data, read from the running server: the admin API's fill
// helpers over the session registry's snapshot, hook stats and bans, plus
// the traffic history and recorded events. Reads take the registry's map
// mutex only for the copy, as the admin API does; counters are atomics.

#include <cstdint>

#include "server/admin/admin_views.h"
#include "server/dashboard/dashboard_source.h"
#include "server/dashboard/event_log.h"
#include "server/dashboard/event_recorder.h"
#include "server/dashboard/traffic_history.h"

namespace reitunnel::server {
class Server;
}

namespace reitunnel::server::dashboard {

// Lists are capped (the page shows counts from ServerInfo).
inline constexpr int kMaxListed = 1000;

class ServerSource : public DashboardSource {
 public:
  // Everything must outlive this object. `recorder` may be null.
  ServerSource(Server& server, ListenerAddresses addresses, const TrafficHistory* history,
               const EventLog* events, EventRecorder* recorder, uint32_t sample_period_ms)
      : server_(server),
        addresses_(std::move(addresses)),
        history_(history),
        events_(events),
        recorder_(recorder),
        sample_period_ms_(sample_period_ms) {}

  reitunnel::dashboard::v1::Overview Overview() override;
  reitunnel::dashboard::v1::EventsResponse Events(uint64_t after) override;
  void OnViewer() override;

  // What the sampler records each period.
  static TrafficCounters ReadCounters(Server& server);

 private:
  Server& server_;
  ListenerAddresses addresses_;
  const TrafficHistory* history_;
  const EventLog* events_;
  EventRecorder* recorder_;
  uint32_t sample_period_ms_;
};

}  // namespace reitunnel::server::dashboard
