#include "server/admin/tunnel_series.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

namespace reitunnel::server {

TunnelSeriesSelection SelectTunnelSeries(std::vector<TunnelSample> samples, size_t max_tunnels) {
  std::sort(samples.begin(), samples.end(), [](const TunnelSample& a, const TunnelSample& b) {
    return std::tie(a.opened_at, a.tunnel_id) < std::tie(b.opened_at, b.tunnel_id);
  });
  TunnelSeriesSelection out;
  std::map<std::pair<std::string, std::string>, TunnelSeries> by_labels;
  for (size_t i = 0; i < samples.size(); ++i) {
    TunnelSample& s = samples[i];
    if (i >= max_tunnels) {
      out.cut_ids.push_back(std::move(s.tunnel_id));
      continue;
    }
    TunnelSeries& series = by_labels[{s.client, s.name}];
    series.name = s.name;
    series.client = s.client;
    series.bytes_in += s.bytes_in;
    series.bytes_out += s.bytes_out;
    series.visitors += s.visitors;
  }
  out.series.reserve(by_labels.size());
  for (auto& [_, series] : by_labels) out.series.push_back(std::move(series));
  return out;
}

uint64_t CutTunnelCounter::Note(const std::vector<std::string>& cut_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> now(cut_ids.begin(), cut_ids.end());
  for (const std::string& id : now) {
    if (!last_.count(id)) ++total_;
  }
  last_ = std::move(now);
  return total_;
}

}  // namespace reitunnel::server
