#include "server/tunnels/host_entrance.h"

#include <functional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/runtime/run_on_each.h"
#include "server/auth/allowed_hostnames.h"
#include "server/session/session_shard.h"
#include "server/vhost/host_pattern.h"

namespace reitunnel::server {

HostEntrance::HostEntrance(EntranceContext ctx, vhost::Routes* routes, bool http,
                           const wire::v1::OpenTunnel& req)
    : ctx_(std::move(ctx)),
      routes_(routes),
      router_(http ? routes->http() : routes->tls()),
      http_(http),
      req_(req) {}

asio::awaitable<std::optional<Refusal>> HostEntrance::Reserve(TunnelInfo* ti) {
  absl::StatusOr<vhost::HostPattern> pattern = vhost::ParseHostPattern(req_.hostname());
  if (!pattern.ok()) {
    co_return Refusal{wire::v1::REFUSAL_CODE_BAD_REQUEST, std::string(pattern.status().message())};
  }
  hostname_ = pattern->ToString();
  // Per-agent identity: agents[].allowed_hostnames (server/auth/allowed_hostnames.h).
  if (auto denied = ApplyAllowedHostnames(*ctx_.agent, hostname_)) co_return denied;
  routed_ = std::make_shared<vhost::RoutedTunnel>();
  if (http_) {
    const auto& options = req_.http();
    routed_->x_forwarded = options.x_forwarded();
    if (!options.basic_auth_user().empty()) {
      auto auth = http::BasicAuth::WithPasswordSha256Hex(options.basic_auth_user(),
                                                         options.basic_auth_password_sha256());
      if (!auth.ok()) {
        co_return Refusal{wire::v1::REFUSAL_CODE_BAD_REQUEST,
                          "basic auth: expected the password's SHA-256 in hex"};
      }
      routed_->basic_auth = *std::move(auth);
    }
  }
  // Checked now so the hook is not asked about a name that is taken; the
  // claim in Start decides a race with another agent.
  if (router_->IsClaimed(hostname_)) {
    co_return Refusal{wire::v1::REFUSAL_CODE_HOSTNAME_IN_USE,
                      absl::StrCat("hostname ", hostname_, " is already in use")};
  }
  ti->remote_port = http_ ? routes_->http_port() : routes_->tls_port();
  ti->public_addr = http_ ? routes_->http_addr() : routes_->tls_addr();
  ti->metadata["remote_port"] = absl::StrCat(ti->remote_port);
  ti->metadata["kind"] = http_ ? "http" : "tls";
  ti->metadata["hostname"] = hostname_;
  co_return std::nullopt;
}

asio::awaitable<std::optional<Refusal>> HostEntrance::Start(std::shared_ptr<TunnelCore> core) {
  // Every shard knows the tunnel before the first visitor can be routed to it.
  auto shards = ctx_.shards;
  std::vector<asio::any_io_executor> executors;
  for (const auto& s : shards) executors.push_back(s->executor());
  std::function<void(size_t)> start = [shards, core](size_t i) {
    shards[i]->StartRoutedTunnel(core);
  };
  co_await runtime::RunOnEach(executors, start);
  routed_->core = core;
  for (auto& s : shards) routed_->shards.push_back(s);
  // The owner is the tunnel id, unique per open: a stale session of the same
  // agent can never release a newer session's claim.
  const std::string owner = core->info().tunnel_id;
  if (!router_->Claim(hostname_, owner, vhost::Route(routed_)).ok()) {
    std::function<void(size_t)> stop = [shards, owner](size_t i) { shards[i]->StopTunnel(owner); };
    co_await runtime::RunOnEach(executors, stop);
    co_return Refusal{wire::v1::REFUSAL_CODE_HOSTNAME_IN_USE,
                      absl::StrCat("hostname ", hostname_, " is already in use")};
  }
  owner_ = owner;
  co_return std::nullopt;
}

void HostEntrance::StopReaching() {
  if (owner_.empty()) return;
  (void)router_->Release(hostname_, owner_);
  owner_.clear();
}

asio::awaitable<void> HostEntrance::Release() {
  StopReaching();
  co_return;
}

}  // namespace reitunnel::server
