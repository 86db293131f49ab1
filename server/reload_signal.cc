#include "server/reload_signal.h"

#include <csignal>

#include "absl/strings/str_join.h"
#include "common/config/server_config.h"
#include "common/log/log.h"
#include "server/config_defaults.h"
#include "server/hooks/make_dispatcher.h"
#include "server/server.h"

namespace reitunnel::server {

ReloadOnSighup::ReloadOnSighup(asio::io_context& control, std::vector<std::string> args,
                               Server& server)
    : signals_(control), args_(std::move(args)), server_(server) {}

void ReloadOnSighup::Start() {
  asio::error_code ec;
  signals_.add(SIGHUP, ec);
  if (ec) {
    log::Warn("reload_unavailable", "cannot handle SIGHUP; reload needs a restart",
              {{"error", ec.message()}});
    return;
  }
  Wait();
}

void ReloadOnSighup::Stop() {
  asio::error_code ec;
  signals_.clear(ec);
  std::signal(SIGHUP, SIG_IGN);
}

void ReloadOnSighup::Wait() {
  signals_.async_wait([this](const asio::error_code& ec, int) {
    if (ec) return;
    ReloadNow();
    Wait();
  });
}

bool ReloadOnSighup::ReloadNow() {
  log::Info("config_reload_started", "SIGHUP: reloading the configuration");
  if (server_.draining()) {
    log::Warn("config_reload_skipped", "shutting down: configuration not reloaded");
    return false;
  }
  auto next = config::LoadServerConfig(args_);
  absl::Status st = next.status();
  if (st.ok()) {
    FillDataPlaneDefaults(&*next);
    st = NormalizeHookConfig(&*next);
  }
  absl::StatusOr<Server::ReloadReport> report =
      st.ok() ? server_.Reload(*next) : absl::StatusOr<Server::ReloadReport>(st);
  if (!report.ok()) {
    // The messages name files and keys, never secrets (as at start).
    log::Error("config_reload_failed",
               "new configuration rejected; the running configuration stays",
               {{"error", std::string(report.status().message())}});
    return false;
  }
  log::Info("config_reloaded", "configuration reloaded",
            {{"applied", report->applied.empty() ? "nothing changed"
                                                 : absl::StrJoin(report->applied, "; ")},
             {"needs_restart", absl::StrJoin(report->needs_restart, "; ")},
             {"sessions_cut", report->sessions_cut}});
  if (!report->needs_restart.empty()) {
    log::Warn("config_needs_restart", "some changed settings only apply after a restart",
              {{"settings", absl::StrJoin(report->needs_restart, "; ")}});
  }
  return true;
}

}  // namespace reitunnel::server
