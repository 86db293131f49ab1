#include "server/dashboard/traffic_history.h"

namespace reitunnel::server::dashboard {

namespace {

// Counters only grow, but a tunnel closing between two reads moves its bytes
// from the open tunnels to the closed totals; never show that as negative.
double Rate(uint64_t now, uint64_t before, double seconds) {
  if (seconds <= 0 || now < before) return 0;
  return static_cast<double>(now - before) / seconds;
}

}  // namespace

void TrafficHistory::Record(std::chrono::steady_clock::time_point mono,
                            std::chrono::system_clock::time_point wall, TrafficCounters counters) {
  std::lock_guard<std::mutex> l(mu_);
  double seconds = points_.empty() ? 0 : std::chrono::duration<double>(mono - last_mono_).count();
  TrafficPoint p;
  p.time = wall;
  if (!points_.empty()) {
    const TrafficCounters& prev = points_.back().totals;
    p.in_bps = Rate(counters.bytes_in, prev.bytes_in, seconds);
    p.out_bps = Rate(counters.bytes_out, prev.bytes_out, seconds);
  }
  std::map<std::string, TunnelPrev> next;
  for (const auto& t : counters.per_tunnel) {
    TunnelPrev cur;
    cur.bytes_in = t.bytes_in;
    cur.bytes_out = t.bytes_out;
    if (auto it = tunnels_.find(t.tunnel_id); it != tunnels_.end()) {
      cur.rate.in_bps = Rate(t.bytes_in, it->second.bytes_in, seconds);
      cur.rate.out_bps = Rate(t.bytes_out, it->second.bytes_out, seconds);
    }
    next.emplace(t.tunnel_id, cur);
  }
  tunnels_ = std::move(next);
  counters.per_tunnel.clear();
  p.totals = std::move(counters);
  points_.push_back(std::move(p));
  while (points_.size() > capacity_) points_.pop_front();
  last_mono_ = mono;
}

std::vector<TrafficPoint> TrafficHistory::Points() const {
  std::lock_guard<std::mutex> l(mu_);
  return {points_.begin(), points_.end()};
}

std::map<std::string, TunnelRateValue> TrafficHistory::Rates() const {
  std::lock_guard<std::mutex> l(mu_);
  std::map<std::string, TunnelRateValue> out;
  for (const auto& [id, t] : tunnels_) out.emplace(id, t.rate);
  return out;
}

}  // namespace reitunnel::server::dashboard
