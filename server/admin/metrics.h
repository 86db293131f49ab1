#pragma once

// Prometheus metrics at http://--metrics/metrics. Values are read when
// scraped: data-plane state is snapshotted on the io thread (the scraper's
// thread waits, the data plane never does), hook counters are atomics.
// Labels are bounded: hook names and event types, never per visitor.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "asio/io_context.hpp"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"

namespace reitunnel::server {

class Server;

class MetricsCollector : public prometheus::Collectable {
 public:
  MetricsCollector(Server& server, asio::io_context& io) : server_(server), io_(io) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  Server& server_;
  asio::io_context& io_;
};

class MetricsEndpoint {
 public:
  // Serves /metrics on `address` ("host:port", port 0 picks one).
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(const std::string& address,
                                                                Server& server,
                                                                asio::io_context& io);
  const std::string& address() const { return address_; }

 private:
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<MetricsCollector> collector_;
  std::string address_;
};

}  // namespace reitunnel::server
