#pragma once

// `reitunneld --dashboard=HOST:PORT`: the web dashboard, assembled. It runs
// on its own thread (HTTP connections, JSON, the traffic sampler), so a slow
// browser never delays the control loop or a worker; it only reads the
// server's registry, counters, hook stats and bans, and records events
// through the hook dispatcher's observer API on the control executor.
// Authentication is the admin API's (dashboard_auth.h); with admin TLS the
// dashboard is served over TLS with the admin certificate.

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "asio/any_io_executor.hpp"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "common/net/tls.h"
#include "reitunnel/config/v1/server.pb.h"
#include "server/admin/admin_views.h"
#include "server/auth/auth_throttle.h"
#include "server/dashboard/dashboard_auth.h"
#include "server/dashboard/dashboard_handler.h"
#include "server/dashboard/event_log.h"
#include "server/dashboard/event_recorder.h"
#include "server/dashboard/http_server.h"
#include "server/dashboard/server_source.h"
#include "server/dashboard/session_store.h"
#include "server/dashboard/traffic_history.h"

namespace reitunnel::server {
class Server;
}

namespace reitunnel::server::dashboard {

struct DashboardOptions {
  std::string address;      // "host:port"; port 0 picks one
  std::string admin_token;  // empty: certificates only
  config::v1::AdminConfig admin_api;  // TLS certificate, key, client CA
  ListenerAddresses addresses;        // shown in the server panel
  std::chrono::milliseconds sample_period{1000};
  SessionOptions sessions;
  AuthThrottleOptions login_throttle;
};

class Dashboard {
 public:
  // Binds and starts serving. `server` and `control` (its control executor)
  // must outlive the dashboard.
  static absl::StatusOr<std::unique_ptr<Dashboard>> Start(Server& server,
                                                          asio::any_io_executor control,
                                                          DashboardOptions options);
  // Stops serving and joins the dashboard's thread.
  ~Dashboard();

  const std::string& address() const { return http_->address(); }
  bool tls() const { return tls_ != nullptr; }

 private:
  // io_context with its two-phase teardown exposed (see WorkerPool).
  class Loop : public asio::io_context {
   public:
    Loop() : asio::io_context(1) {}
    using asio::execution_context::shutdown;
  };

  Dashboard(Server& server, asio::any_io_executor control, DashboardOptions options);
  asio::awaitable<void> SampleLoop();

  Loop io_;  // first: outlives everything its handlers refer to
  Server& server_;
  DashboardOptions o_;
  net::SslCtxPtr tls_;
  TrafficHistory history_;
  std::shared_ptr<EventLog> events_;
  EventRecorder recorder_;
  SessionStore sessions_;
  AuthThrottle throttle_;
  DashboardAuth auth_;
  ServerSource source_;
  DashboardHandler handler_;
  std::unique_ptr<HttpServer> http_;
  asio::steady_timer sample_timer_;
  std::thread thread_;
};

}  // namespace reitunnel::server::dashboard
