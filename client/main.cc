// reitunnel: the Reitunnel agent.

#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "asio/co_spawn.hpp"
#include "asio/io_context.hpp"
#include "asio/post.hpp"
#include "asio/signal_set.hpp"
#include "client/agent.h"
#include "client/server_dialer.h"
#include "common/config/agent_config.h"
#include "common/log/log.h"
#include "common/process/startup.h"
#include "common/runtime/cpu_count.h"
#include "common/runtime/worker_pool.h"

namespace rlog = reitunnel::log;

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (auto code = reitunnel::process::HandleInfoFlags(args, "reitunnel",
                                                       reitunnel::config::AgentUsage())) {
    return *code;
  }
  auto cfg = reitunnel::config::LoadAgentConfig(args);
  if (!cfg.ok()) {
    std::cerr << "reitunnel: " << cfg.status().message() << "\n";
    return 2;
  }
  reitunnel::process::Setup(cfg->log());
  for (const std::string& w : reitunnel::config::AgentConfigWarnings(*cfg)) {
    rlog::Warn("config_warning", w);
  }
  // A bad --proxy or proxy variable stops the agent here, not every dial.
  auto link = reitunnel::client::PlanServerLink(*cfg, reitunnel::transport::ProxyEnvFromProcess());
  if (!link.ok()) {
    std::cerr << "reitunnel: " << link.status().message() << "\n";
    return 2;
  }
  rlog::Info("server_link", "server link", {{"link", link->description}});
  if (cfg->workers() == 0) {
    cfg->set_workers(static_cast<uint32_t>(reitunnel::runtime::UsableCpuCount()));
  }

  reitunnel::net::SslCtxPtr tls;
  if (cfg->tls().enabled()) {
    auto ctx = reitunnel::net::MakeClientTlsContext(
        {cfg->tls().ca_file(), cfg->tls().cert_file(), cfg->tls().key_file()});
    if (!ctx.ok()) {
      std::cerr << "reitunnel: " << ctx.status().message() << "\n";
      return 2;
    }
    tls = std::move(*ctx);
  }

  // Signals and the exit code live on this thread; the agent runs on the
  // workers (its control loop on worker 0).
  asio::io_context main_io(1);
  reitunnel::runtime::WorkerPool workers(static_cast<int>(cfg->workers()), "rt-agent");
  reitunnel::client::Agent agent(workers, *cfg, std::move(tls));
  int exit_code = 0;
  // Before the agent's first log line: a supervisor may signal as soon as
  // it sees one, and the default disposition would kill the process.
  asio::signal_set signals(main_io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code& ec, int sig) {
    if (ec) return;
    rlog::Info("signal", "signal received, stopping", {{"signal", sig}});
    agent.Stop();
  });
  workers.Start();
  asio::co_spawn(workers.executor(0), agent.Run(), [&](std::exception_ptr e, int code) {
    asio::post(main_io, [&, code, failed = e != nullptr] {
      exit_code = failed ? 1 : code;
      main_io.stop();
    });
  });
  auto guard = asio::make_work_guard(main_io);
  main_io.run();
  // Exiting anyway: a late SIGTERM must not replace the exit code. (clear()
  // first: asio restores the default disposition when it lets go.)
  asio::error_code ignored;
  signals.clear(ignored);
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  workers.Stop();
  workers.Join();
  workers.Shutdown();
  return exit_code;
}
