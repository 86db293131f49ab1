#pragma once

// Prometheus metrics at http://--metrics/metrics. Values are read when
// scraped, from the session registry and atomic counters: a scrape never
// waits for the data plane. Labels are bounded: hook names and event types,
// never per visitor; per-tunnel labels only when metrics_options asks, up to
// its cap.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "server/admin/tunnel_series.h"

namespace reitunnel::server {

class Server;

class MetricsCollector : public prometheus::Collectable {
 public:
  explicit MetricsCollector(Server& server) : server_(server) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  void CollectPerTunnel(const std::vector<TunnelSample>& samples,
                        std::vector<prometheus::MetricFamily>* out) const;

  Server& server_;
  mutable CutTunnelCounter cut_tunnels_;
};

class MetricsEndpoint {
 public:
  // Serves /metrics on `address` ("host:port", port 0 picks one).
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(const std::string& address,
                                                                Server& server);
  const std::string& address() const { return address_; }

 private:
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<MetricsCollector> collector_;
  std::string address_;
};

}  // namespace reitunnel::server
