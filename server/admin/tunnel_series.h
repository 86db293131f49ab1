#pragma once

// The opt-in per-tunnel metrics (metrics_options.per_tunnel_labels): which
// tunnels get their own series at a scrape, under the cardinality cap.
// Pure functions over samples, so the selection is tested without a server.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace reitunnel::server {

// One open tunnel as read from the registry.
struct TunnelSample {
  std::string tunnel_id;
  std::string name;
  // The agent's identity (AgentIdentity()): stable across reconnects.
  std::string client;
  std::chrono::system_clock::time_point opened_at;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t visitors = 0;
};

// One label set {tunnel, client} and its values.
struct TunnelSeries {
  std::string name;
  std::string client;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t visitors = 0;
};

struct TunnelSeriesSelection {
  // Sorted by (client, name). Tunnels sharing a label set (two agents behind
  // one address with the same tunnel name) are summed: an exposition may not
  // repeat a label set.
  std::vector<TunnelSeries> series;
  // Tunnels left out by the cap.
  std::vector<std::string> cut_ids;
};

// Keeps the `max_tunnels` longest-open tunnels (ties by id), so a tunnel
// keeps its series while newer ones come and go.
TunnelSeriesSelection SelectTunnelSeries(std::vector<TunnelSample> samples, size_t max_tunnels);

// Counts tunnels left out by the cap, each once while it stays left out.
// Thread-safe (scrapes may run concurrently).
class CutTunnelCounter {
 public:
  // Notes this scrape's cut tunnels; returns the running total.
  uint64_t Note(const std::vector<std::string>& cut_ids);

 private:
  std::mutex mu_;
  std::set<std::string> last_;
  uint64_t total_ = 0;
};

}  // namespace reitunnel::server
