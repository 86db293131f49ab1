// reitunneld: the Reitunnel tunnel server.

#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "asio/co_spawn.hpp"
#include "asio/io_context.hpp"
#include "asio/post.hpp"
#include "asio/signal_set.hpp"
#include "common/config/parse.h"
#include "common/config/server_config.h"
#include "common/log/log.h"
#include "common/process/startup.h"
#include "server/admin/admin_service.h"
#include "server/admin/metrics.h"
#include "server/admin_server.h"
#include "server/hooks/make_dispatcher.h"
#include "server/server.h"

namespace {

using reitunnel::config::v1::ServerConfig;
namespace rlog = reitunnel::log;

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

  reitunnel::process::Setup(cfg->log());

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

  if (auto st = reitunnel::server::NormalizeHookConfig(&*cfg); !st.ok()) {
    return Fail(2, std::string(st.message()));
  }

  asio::io_context io(1);
  auto hooks = reitunnel::server::MakeHookDispatcher(io.get_executor(), *cfg);
  if (!hooks.ok()) return Fail(2, std::string(hooks.status().message()));
  reitunnel::server::Server server(
      io, *cfg, std::move(tls), reitunnel::server::PortAllocator(bind_addr, range->low, range->high),
      std::move(*hooks));

  // The admin token defaults to the agent token only when none is set.
  std::string admin_token =
      cfg->admin_api().token().empty() ? cfg->token() : cfg->admin_api().token();
  reitunnel::server::AdminService admin_service(
      server, io,
      reitunnel::server::AdminAuth(admin_token, !cfg->admin_api().client_ca_file().empty()));
  auto admin = reitunnel::server::AdminServer::Start(cfg->admin(), cfg->admin_api(), &admin_service);
  if (!admin.ok()) return Fail(1, std::string(admin.status().message()));
  rlog::Info("admin_listener_ready", "admin API listening",
             {{"addr", (*admin)->address()}, {"tls", !cfg->admin_api().cert_file().empty()}});
  std::unique_ptr<reitunnel::server::MetricsEndpoint> metrics;
  if (!cfg->metrics().empty()) {
    auto m = reitunnel::server::MetricsEndpoint::Start(cfg->metrics(), server, io);
    if (!m.ok()) return Fail(1, std::string(m.status().message()));
    metrics = std::move(*m);
    rlog::Info("metrics_listener_ready", "metrics listening",
               {{"addr", metrics->address()}, {"path", "/metrics"}});
  }
  admin_service.set_addresses({(*admin)->address(), metrics ? metrics->address() : ""});
  // Not ready for probes until OnServerStart allowed and agents can connect.
  (*admin)->SetServing(false);

  int exit_code = 0;
  // Admin handlers finish on the io thread, so the admin server is shut down
  // from a helper thread while the loop still runs, then the loop stops.
  std::thread admin_stopper;
  auto stop_all = [&] {
    if (admin_stopper.joinable()) return;
    admin_stopper = std::thread([&] {
      (*admin)->Shutdown();
      asio::post(io, [&io] { io.stop(); });
    });
  };

  // OnServerStart runs before anything listens for agents.
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        if (auto st = co_await server.CheckServerStart(); !st.ok()) {
          rlog::Error("start_denied", std::string(st.message()));
          std::cerr << "reitunneld: " << st.message() << "\n";
          exit_code = 1;
          stop_all();
          co_return;
        }
        // Serving first, so that anyone who saw "agent_listener_ready" also
        // sees a SERVING health check.
        (*admin)->SetServing(true);
        if (auto st = server.Start(); !st.ok()) {
          (*admin)->SetServing(false);
          std::cerr << "reitunneld: " << st.message() << "\n";
          exit_code = 1;
          stop_all();
        }
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code& e, int sig) {
    if (e) return;
    rlog::Info("signal", "signal received, draining", {{"signal", sig}});
    (*admin)->SetServing(false);
    server.Shutdown(stop_all);
    // A second signal skips the drain.
    signals.async_wait([&io](const asio::error_code& e2, int) {
      if (!e2) io.stop();
    });
  });
  io.run();
  // Exiting anyway: a late SIGTERM must not replace the exit code. (clear()
  // first: asio restores the default disposition when it lets go.)
  asio::error_code ignored;
  signals.clear(ignored);
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  if (admin_stopper.joinable()) admin_stopper.join();
  metrics.reset();
  return exit_code;
}
