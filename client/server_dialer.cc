#include "client/server_dialer.h"

#include <system_error>

#include "absl/strings/str_cat.h"
#include "asio/error.hpp"
#include "common/log/log.h"
#include "common/transport/url/server_address.h"

namespace reitunnel::client {
namespace {

// Idle WebSocket links ping this often, so proxies and load balancers with
// idle timeouts (nginx: 60 s) keep the agent's spare data links open.
constexpr std::chrono::milliseconds kWsPingInterval{25000};

}  // namespace

absl::StatusOr<ServerLink> PlanServerLink(const config::v1::AgentConfig& cfg,
                                          const transport::ProxyEnv& env) {
  absl::StatusOr<transport::url::ServerAddress> server =
      transport::url::ParseServerAddress(cfg.server());
  if (!server.ok()) return absl::InvalidArgumentError(absl::StrCat("--server: ", server.status().message()));
  std::optional<std::string> flag;
  if (cfg.has_proxy()) flag = cfg.proxy();
  absl::StatusOr<transport::ProxyChoice> proxy =
      transport::SelectProxy(transport::ProxySchemeFor(*server), server->host, flag, env);
  if (!proxy.ok()) return proxy.status();
  ServerLink link;
  link.spec.server = *server;
  link.spec.proxy = proxy->proxy;
  link.spec.tls_server_name = cfg.tls().server_name();
  link.spec.timeout = std::chrono::milliseconds(cfg.connect_timeout_ms());
  link.spec.ws_ping_interval = kWsPingInterval;
  const bool tls = cfg.tls().enabled();
  link.description =
      server->is_websocket()
          ? absl::StrCat(server->scheme_name(), "://", server->HostPort(), server->path)
          : absl::StrCat(tls ? "tls://" : "tcp://", server->HostPort());
  if (proxy->proxy) {
    absl::StrAppend(&link.description, " via ", proxy->proxy->Redacted(), " (", proxy->source,
                    ")");
  } else if (!proxy->source.empty()) {
    absl::StrAppend(&link.description, " direct (", proxy->source, ")");
  }
  return link;
}

ServerDialer::ServerDialer(const config::v1::AgentConfig& cfg, SSL_CTX* tls)
    : address_(cfg.server()) {
  auto link = PlanServerLink(cfg, transport::ProxyEnvFromProcess());
  if (!link.ok()) {
    error_ = std::string(link.status().message());
    return;
  }
  spec_ = std::move(link->spec);
  spec_.tls = tls;
  ok_ = true;
}

asio::awaitable<std::shared_ptr<transport::Stream>> ServerDialer::Dial() const {
  if (!ok_) {
    throw std::system_error(std::make_error_code(std::errc::invalid_argument), error_);
  }
  try {
    co_return co_await transport::DialLink(spec_);
  } catch (const std::system_error& e) {
    // The caller logs the error code's message; transport and TLS errors
    // keep their detail (a proxy's status line, a certificate problem) in
    // what(), which never holds credentials.
    if (e.code().category() != std::system_category() &&
        e.code().category() != asio::error::get_system_category() &&
        e.code().category() != asio::error::get_misc_category() &&
        e.code().category() != asio::error::get_netdb_category() &&
        e.code().category() != asio::error::get_addrinfo_category()) {
      log::Warn("server_link_failed", "connection to the server could not be set up",
                {{"server", address_}, {"error", e.what()}});
    }
    throw;
  }
}

}  // namespace reitunnel::client
