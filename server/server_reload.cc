// SIGHUP reload and identity revocation: the parts of Server that change
// settings while it runs (see Server::Reload in server.h).

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asio/post.hpp"
#include "common/log/log.h"
#include "common/net/tls.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/hooks/hook_dispatcher.h"
#include "server/server.h"
#include "server/session/agent_session.h"

namespace reitunnel::server {
namespace {

using config::v1::ServerConfig;

bool Differs(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  return a.SerializeAsString() != b.SerializeAsString();
}

AdmissionLimits AdmissionFrom(const config::v1::ServerLimits& l) {
  AdmissionLimits a;
  a.max_pending = l.max_pending_handshakes();
  a.max_pending_per_source = l.max_pending_handshakes_per_source();
  a.reserved_for_known = l.reserved_handshakes();
  return a;
}

AuthThrottleOptions ThrottleFrom(const config::v1::ServerLimits& l) {
  AuthThrottleOptions o;
  o.max_failures = l.auth_failures_before_block();
  o.first_block = std::chrono::milliseconds(l.auth_block_ms());
  return o;
}

// What only a restart changes: listeners, ports, workers, cluster, admin,
// and the limits and timeouts that sessions copied when they started.
std::vector<std::string> NeedsRestart(const ServerConfig& was, const ServerConfig& next) {
  std::vector<std::string> out;
  auto check = [&out](bool changed, const char* what) {
    if (changed) out.push_back(what);
  };
  check(was.listen() != next.listen(), "listen");
  check(was.ws_listen() != next.ws_listen(), "ws_listen");
  check(!google::protobuf::util::MessageDifferencer::Equals(was.vhost(), next.vhost()), "vhost");
  check(was.ws_path() != next.ws_path(), "ws_path");
  check(was.admin() != next.admin(), "admin");
  check(Differs(was.admin_api(), next.admin_api()), "admin_api");
  check(was.metrics() != next.metrics(), "metrics");
  check(was.public_ports() != next.public_ports(), "public_ports");
  check(was.public_bind_addr() != next.public_bind_addr(), "public_bind_addr");
  check(was.workers() != next.workers(), "workers");
  check(Differs(was.cluster(), next.cluster()), "cluster");
  check(Differs(was.timeouts(), next.timeouts()), "timeouts");
  check(was.log().format() != next.log().format(), "log.format");
  check(was.tls().cert_file().empty() != next.tls().cert_file().empty(),
        "tls (turning TLS on or off)");
  const auto& a = was.limits();
  const auto& b = next.limits();
  check(a.max_tunnels_per_agent() != b.max_tunnels_per_agent() ||
            a.max_agents() != b.max_agents() || a.data_pool_size() != b.data_pool_size() ||
            a.max_visitors_per_tunnel() != b.max_visitors_per_tunnel(),
        "limits (max_tunnels_per_agent, max_agents, data_pool_size, max_visitors_per_tunnel)");
  return out;
}

std::string AgentsChange(const std::vector<Authenticator::Listed>& before,
                         const AgentDirectory& after) {
  std::map<std::string, std::string> old;
  for (const auto& l : before) old[l.entry.id] = l.entry.credential;
  int added = 0, changed = 0, kept = 0;
  for (const auto& e : after.entries()) {
    auto it = old.find(e.id);
    if (it == old.end()) {
      ++added;
      continue;
    }
    ++(it->second == e.credential ? kept : changed);
    old.erase(it);
  }
  const int removed = static_cast<int>(old.size());
  if (added == 0 && changed == 0 && removed == 0) return "";
  return absl::StrCat("agents: ", added, " added, ", changed, " changed, ", removed,
                      " removed, ", kept, " unchanged");
}

}  // namespace

absl::StatusOr<Server::ReloadReport> Server::Reload(const ServerConfig& next) {
  // Everything that can fail first: a bad file changes nothing.
  net::SslCtxPtr tls;
  if (tls_ && !next.tls().cert_file().empty()) {
    auto ctx = net::MakeServerTlsContext(
        {next.tls().cert_file(), next.tls().key_file(), next.tls().client_ca_file()});
    if (!ctx.ok()) {
      return absl::Status(ctx.status().code(), absl::StrCat("tls: ", ctx.status().message()));
    }
    tls = std::move(*ctx);
  }
  auto agents = AgentDirectory::Build(next);
  if (!agents.ok()) return agents.status();
  log::Level level = log::Level::kInfo;
  log::Format format = log::Format::kText;
  log::ParseLevel(next.log().level(), &level);
  log::ParseFormat(running_.log().format(), &format);

  ReloadReport r;
  r.needs_restart = NeedsRestart(cfg_, next);
  if (tls) {
    tls_->Set(std::move(tls));
    r.applied.push_back("tls: certificate, key and client CA re-read");
  }
  if (next.token() != running_.token()) {
    r.applied.push_back(next.token().empty() ? "token: shared token removed"
                                             : "token: shared token replaced");
  }
  if (std::string change = AgentsChange(auth_.List(), **agents); !change.empty()) {
    r.applied.push_back(std::move(change));
  }
  auth_.Update(next.token(), *agents);
  if (Differs(running_.limits(), next.limits())) {
    admission_.SetLimits(AdmissionFrom(next.limits()));
    throttle_.SetOptions(ThrottleFrom(next.limits()));
    r.applied.push_back(
        "limits: max_pending_handshakes, max_pending_handshakes_per_source, reserved_handshakes, "
        "auth_failures_before_block, auth_block_ms");
  }
  if (hooks_) {
    hooks_->UpdateSettings(next, &r.applied, &r.needs_restart);
  } else if (next.hooks_size() > 0) {
    r.needs_restart.push_back("hooks (none were configured at start)");
  }
  if (next.log().level() != running_.log().level()) {
    log::Configure(level, format);
    r.applied.push_back(absl::StrCat("log.level: ", next.log().level()));
  }
  running_ = next;
  r.sessions_cut = CutLapsedSessions();
  sweep_until_ = std::chrono::steady_clock::now() +
                 std::chrono::milliseconds(cfg_.timeouts().handshake_ms()) + std::chrono::seconds(1);
  return r;
}

void Server::RevokeAgent(const std::string& id, std::function<void(grpc::Status, size_t)> done) {
  asio::post(control_, [this, id, done = std::move(done)] {
    if (!auth_.Revoke(id)) {
      done(grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no agent with id \"", id.substr(0, 128),
                                     "\" in the server's agents: list")),
           0);
      return;
    }
    log::Info("agent_revoked", "agent identity revoked until restart", {{"agent_id", id}});
    size_t cut = CutLapsedSessions();
    sweep_until_ = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(cfg_.timeouts().handshake_ms()) +
                   std::chrono::seconds(1);
    done(grpc::Status::OK, cut);
  });
}

void Server::SweepLapsedSessionsIfDue() {
  if (std::chrono::steady_clock::now() >= sweep_until_) {
    cut_.clear();
    return;
  }
  CutLapsedSessions();
}

size_t Server::CutLapsedSessions() {
  using CS = Authenticator::CredentialState;
  size_t cut = 0;
  for (const auto& v : registry_.Snapshot()) {
    const auto& info = v.entry->info;
    CS state = auth_.State(info.credential, info.agent_id, info.agent_id_verified);
    if (state == CS::kValid || cut_.count(v.entry)) continue;
    std::string reason;
    bool reconnect = true;
    switch (state) {
      case CS::kRevoked:
        reason = "agent identity revoked by an operator";
        reconnect = false;
        break;
      case CS::kRemoved:
        reason = "agent identity removed from the server's configuration";
        reconnect = false;
        break;
      case CS::kChanged:
        reason = "agent identity settings changed on the server; reconnect to apply them";
        break;
      case CS::kSharedChanged:
      case CS::kValid:
        reason = "the server's shared token changed";
        break;
    }
    log::Info("agent_session_cut", "ending an agent session whose credential no longer holds",
              {{"client_id", info.client_id}, {"agent_id", info.agent_id}, {"reason", reason}});
    cut_.insert(v.entry);
    ++cut;
    auto entry = v.entry;
    asio::post(entry->home, [entry, reason, reconnect] {
      if (auto s = entry->session.lock()) s->Close(reason, reconnect);
    });
  }
  return cut;
}

}  // namespace reitunnel::server
