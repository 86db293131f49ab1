// reitunneld: the Reitunnel tunnel server.

#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "asio/io_context.hpp"
#include "asio/post.hpp"
#include "asio/signal_set.hpp"
#include "common/config/parse.h"
#include "common/config/server_config.h"
#include "common/log/log.h"
#include "common/net/spawn.h"
#include "common/process/grpc_log.h"
#include "common/process/startup.h"
#include "common/runtime/worker_pool.h"
#include "server/admin/admin_service.h"
#include "server/admin/metrics.h"
#include "server/admin_server.h"
#include "server/cluster_mode/cluster_node.h"
#include "server/config_defaults.h"
#include "server/dashboard/dashboard.h"
#include "server/exposure_warnings.h"
#include "server/auth/agent_directory.h"
#include "server/hooks/make_dispatcher.h"
#include "server/reload_signal.h"
#include "server/server.h"

namespace {

using reitunnel::config::v1::ServerConfig;
namespace rlog = reitunnel::log;
namespace rs = reitunnel::server;

int Fail(int code, const std::string& msg) {
  std::cerr << "reitunneld: " << msg << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (auto code = reitunnel::process::HandleInfoFlags(args, "reitunneld",
                                                       reitunnel::config::ServerUsage())) {
    return *code;
  }
  auto cfg = reitunnel::config::LoadServerConfig(args);
  if (!cfg.ok()) return Fail(2, std::string(cfg.status().message()));
  rs::FillDataPlaneDefaults(&*cfg);

  reitunnel::process::Setup(cfg->log());
  reitunnel::process::RouteGrpcLogs();
  for (const std::string& w : reitunnel::config::ServerConfigWarnings(*cfg)) {
    rlog::Warn("config_warning", w);
  }
  for (const std::string& w : rs::ExposureWarnings(*cfg)) rlog::Warn("listener_without_tls", w);

  reitunnel::net::SslCtxPtr tls;
  if (!cfg->tls().cert_file().empty()) {
    auto ctx = reitunnel::net::MakeServerTlsContext({cfg->tls().cert_file(), cfg->tls().key_file(),
                                                     cfg->tls().client_ca_file()});
    if (!ctx.ok()) return Fail(2, std::string(ctx.status().message()));
    tls = std::move(*ctx);
  }
  auto range = reitunnel::config::ParsePortRange(cfg->public_ports());
  if (!range.ok()) return Fail(2, std::string(range.status().message()));
  asio::error_code ec;
  auto bind_addr = asio::ip::make_address(cfg->public_bind_addr(), ec);
  if (ec) return Fail(2, "--public-bind-addr: not an IP address");

  if (auto st = rs::NormalizeHookConfig(&*cfg); !st.ok()) return Fail(2, std::string(st.message()));
  // Token files are read (and hashed) now: a missing one is a config error.
  auto agents = rs::AgentDirectory::Build(*cfg);
  if (!agents.ok()) return Fail(2, std::string(agents.status().message()));

  // The control loop (this thread): start-up, signals, drain, the hook
  // dispatcher, admin event watchers. The data plane runs on the workers.
  asio::io_context control(1);
  reitunnel::runtime::WorkerPool workers(static_cast<int>(cfg->workers()), "rt-worker");
  auto hooks = rs::MakeHookDispatcher(control.get_executor(), *cfg);
  if (!hooks.ok()) return Fail(2, std::string(hooks.status().message()));
  rs::Server server(control.get_executor(), workers, *cfg, std::move(tls), bind_addr, range->low,
                    range->high, std::move(*hooks));
  server.SetIdentities(std::move(*agents));
  if (cfg->cluster().endpoints_size() > 0) {
    auto node = rs::ClusterNode::Create(control.get_executor(), cfg->cluster(), {});
    if (!node.ok()) return Fail(2, std::string(node.status().message()));
    server.SetCluster(std::move(*node));
  }

  // The admin token defaults to the agent token only when none is set.
  std::string admin_token =
      cfg->admin_api().token().empty() ? cfg->token() : cfg->admin_api().token();
  rs::AdminService admin_service(
      server, control.get_executor(),
      rs::AdminAuth(admin_token, !cfg->admin_api().client_ca_file().empty()), admin_token);
  auto admin = rs::AdminServer::Start(cfg->admin(), cfg->admin_api(), &admin_service);
  if (!admin.ok()) return Fail(1, std::string(admin.status().message()));
  rlog::Info("admin_listener_ready", "admin API listening",
             {{"addr", (*admin)->address()}, {"tls", !cfg->admin_api().cert_file().empty()}});
  std::unique_ptr<rs::MetricsEndpoint> metrics;
  if (!cfg->metrics().empty()) {
    auto m = rs::MetricsEndpoint::Start(cfg->metrics(), server);
    if (!m.ok()) return Fail(1, std::string(m.status().message()));
    metrics = std::move(*m);
    rlog::Info("metrics_listener_ready", "metrics listening",
               {{"addr", metrics->address()}, {"path", "/metrics"}});
  }
  admin_service.set_addresses({(*admin)->address(), metrics ? metrics->address() : ""});
  std::unique_ptr<rs::dashboard::Dashboard> dashboard;
  if (!cfg->dashboard().empty()) {
    rs::dashboard::DashboardOptions o;
    o.address = cfg->dashboard();
    o.admin_token = admin_token;
    o.admin_api = cfg->admin_api();
    o.addresses = {(*admin)->address(), metrics ? metrics->address() : ""};
    auto d = rs::dashboard::Dashboard::Start(server, control.get_executor(), std::move(o));
    if (!d.ok()) return Fail(1, std::string(d.status().message()));
    dashboard = std::move(*d);
    rlog::Info("dashboard_listener_ready", "dashboard listening",
               {{"addr", dashboard->address()}, {"tls", dashboard->tls()}});
  }
  // Not ready for probes until hooks answered, OnServerStart allowed and
  // agents can connect; not ready while a worker is wedged or draining.
  (*admin)->SetServing(false);
  bool ready = false;
  bool draining = false;
  server.set_on_health_change([&](bool healthy) {
    (*admin)->SetServing(ready && healthy && !draining);
  });

  workers.Start();
  int exit_code = 0;
  // Admin handlers may finish on any thread, so the admin server is shut
  // down from a helper thread while the loops still run, then they stop.
  std::thread admin_stopper;
  auto stop_all = [&] {
    if (admin_stopper.joinable()) return;
    admin_stopper = std::thread([&] {
      (*admin)->Shutdown();
      asio::post(control, [&control] { control.stop(); });
    });
  };

  auto startup = [&]() -> asio::awaitable<void> {
    if (auto st = co_await server.PrepareHooks(); !st.ok()) {
      rlog::Error("start_failed", std::string(st.message()));
      std::cerr << "reitunneld: " << st.message() << "\n";
      exit_code = st.code() == absl::StatusCode::kFailedPrecondition ? 2 : 1;
      stop_all();
      co_return;
    }
    if (auto st = co_await server.CheckServerStart(); !st.ok()) {
      rlog::Error("start_denied", std::string(st.message()));
      std::cerr << "reitunneld: " << st.message() << "\n";
      exit_code = 1;
      stop_all();
      co_return;
    }
    if (auto st = server.Start(); !st.ok()) {
      std::cerr << "reitunneld: " << st.message() << "\n";
      exit_code = 1;
      stop_all();
      co_return;
    }
    if (server.cluster()) {
      // Not ready (health, load balancer) until this replica is registered.
      auto join = server.JoinCluster((*admin)->address(), std::chrono::seconds(30));
      if (auto st = co_await std::move(join); !st.ok()) {
        rlog::Error("cluster_join_failed", std::string(st.message()));
        std::cerr << "reitunneld: " << st.message() << "\n";
        exit_code = 1;
        stop_all();
        co_return;
      }
    }
    ready = true;
    (*admin)->SetServing(server.data_plane_healthy() && !draining);
    rlog::Info("server_ready", "ready", {{"agent_addr", server.listen_addr()}});
  };
  reitunnel::net::Spawn(control.get_executor(), startup(), "startup");

  // SIGHUP reloads what can change live (reload_signal.h).
  rs::ReloadOnSighup reload(control, args, server);
  reload.Start();
  asio::signal_set signals(control, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code& e, int sig) {
    if (e) return;
    rlog::Info("signal", "signal received, draining", {{"signal", sig}});
    draining = true;
    (*admin)->SetServing(false);
    if (!ready) {
      stop_all();
      return;
    }
    server.Shutdown(stop_all);
    // A second signal skips the drain.
    signals.async_wait([&control](const asio::error_code& e2, int) {
      if (!e2) control.stop();
    });
  });
  control.run();
  // Exiting anyway: a late SIGTERM must not replace the exit code. (clear()
  // first: asio restores the default disposition when it lets go.)
  asio::error_code ignored;
  signals.clear(ignored);
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  reload.Stop();
  if (admin_stopper.joinable()) admin_stopper.join();
  dashboard.reset();
  metrics.reset();
  workers.Stop();
  workers.Join();
  // Pending coroutines go while the server they refer to still exists.
  workers.Shutdown();
  return exit_code;
}
