// reitunnel: the Reitunnel agent.

#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "asio/co_spawn.hpp"
#include "asio/io_context.hpp"
#include "asio/signal_set.hpp"
#include "client/agent.h"
#include "common/config/agent_config.h"
#include "common/log/log.h"
#include "common/process/startup.h"

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

  asio::io_context io(1);
  reitunnel::client::Agent agent(io, *cfg, std::move(tls));
  int exit_code = 0;
  asio::co_spawn(io, agent.Run(), [&](std::exception_ptr e, int code) {
    exit_code = e ? 1 : code;
    io.stop();
  });
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code& ec, int sig) {
    if (ec) return;
    rlog::Info("signal", "signal received, stopping", {{"signal", sig}});
    agent.Stop();
  });
  io.run();
  // Exiting anyway: a late SIGTERM must not replace the exit code. (clear()
  // first: asio restores the default disposition when it lets go.)
  asio::error_code ignored;
  signals.clear(ignored);
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  return exit_code;
}
