// Opening an http: or tls: tunnel: instead of a public port of its own, the
// tunnel claims a host name on the shared --http-listen / --sni-listen
// listener. The rest (hooks, shards, registry, close) is shared with TCP
// tunnels in agent_session.cc.

#include <functional>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/runtime/run_on_each.h"
#include "server/session/agent_session.h"
#include "server/session/session_shard.h"
#include "server/vhost/host_pattern.h"

namespace reitunnel::server {

asio::awaitable<void> AgentSession::OpenRoutedTunnel(std::string name, wire::v1::OpenTunnel req) {
  auto self = shared_from_this();
  const bool http = req.kind() == wire::v1::TUNNEL_KIND_HTTP;
  vhost::Routes* routes = deps_.routes;
  vhost::Router* router = routes ? (http ? routes->http() : routes->tls()) : nullptr;
  if (!router) {
    RefuseTunnel(name, req, wire::v1::REFUSAL_CODE_BAD_REQUEST,
                 http ? "this server serves no http tunnels (start it with --http-listen)"
                      : "this server serves no tls tunnels (start it with --sni-listen)");
    co_return;
  }
  absl::StatusOr<vhost::HostPattern> pattern = vhost::ParseHostPattern(req.hostname());
  if (!pattern.ok()) {
    RefuseTunnel(name, req, wire::v1::REFUSAL_CODE_BAD_REQUEST, std::string(pattern.status().message()));
    co_return;
  }
  const std::string hostname = pattern->ToString();
  auto routed = std::make_shared<vhost::RoutedTunnel>();
  if (http) {
    const auto& options = req.http();
    routed->x_forwarded = options.x_forwarded();
    if (!options.basic_auth_user().empty()) {
      auto auth = http::BasicAuth::WithPasswordSha256Hex(options.basic_auth_user(),
                                                         options.basic_auth_password_sha256());
      if (!auth.ok()) {
        RefuseTunnel(name, req, wire::v1::REFUSAL_CODE_BAD_REQUEST,
                     "basic auth: expected the password's SHA-256 in hex");
        co_return;
      }
      routed->basic_auth = *std::move(auth);
    }
  }
  const std::string in_use = absl::StrCat("hostname ", hostname, " is already in use");
  // Checked before asking the hook, claimed after it allowed (the claim
  // decides a race with another agent).
  if (router->IsClaimed(hostname)) {
    RefuseTunnel(name, req, wire::v1::REFUSAL_CODE_HOSTNAME_IN_USE, in_use);
    co_return;
  }

  TunnelInfo ti = DescribeTunnel(name, req);
  ti.remote_port = http ? routes->http_port() : routes->tls_port();
  ti.public_addr = http ? routes->http_addr() : routes->tls_addr();
  ti.metadata["remote_port"] = absl::StrCat(ti.remote_port);
  ti.metadata["kind"] = http ? "http" : "tls";
  ti.metadata["hostname"] = hostname;
  auto core = std::make_shared<TunnelCore>(ti, static_cast<int>(entry_->shards.size()));

  std::optional<HookDecision> d = co_await DecideTunnelOpen(ti);
  if (closed_ || RefusedByHook(d, name, req)) co_return;

  // Every shard knows the tunnel before the first visitor can be routed to it.
  auto shards = entry_->shards;
  std::function<void(size_t)> start = [shards, core](size_t i) { shards[i]->StartRoutedTunnel(core); };
  co_await runtime::RunOnEach(ShardExecutors(), start);
  if (closed_) {  // Run()'s teardown closes the shards
    if (d) BalanceAllowedOpen(core, "failed to open: the agent disconnected");
    co_return;
  }
  routed->core = core;
  for (auto& s : shards) routed->shards.push_back(s);
  // The owner is the tunnel id, unique per open: a stale session of the same
  // agent can never release a newer session's claim.
  if (absl::Status st = router->Claim(hostname, ti.tunnel_id, vhost::Route(routed)); !st.ok()) {
    if (d) BalanceAllowedOpen(core, absl::StrCat("failed to open: ", in_use));
    std::function<void(size_t)> stop = [shards, id = ti.tunnel_id](size_t i) {
      shards[i]->StopTunnel(id);
    };
    co_await runtime::RunOnEach(ShardExecutors(), stop);
    RefuseTunnel(name, req, wire::v1::REFUSAL_CODE_HOSTNAME_IN_USE, in_use);
    co_return;
  }
  Open open;
  open.core = core;
  open.router = router;
  open.hostname = hostname;
  open.routed = std::move(routed);
  TunnelIsOpen(name, req, std::move(open));
}

}  // namespace reitunnel::server
