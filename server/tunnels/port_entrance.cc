#include "server/tunnels/port_entrance.h"

#include <functional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "common/log/log.h"
#include "common/net/listener.h"
#include "server/auth/allowed_ports.h"
#include "server/cluster_mode/cluster_node.h"
#include "server/session/session_shard.h"

namespace reitunnel::server {

PortEntrance::PortEntrance(EntranceContext ctx, uint32_t requested_port, bool udp)
    : ctx_(std::move(ctx)), requested_(requested_port), udp_(udp) {}

asio::awaitable<std::optional<Refusal>> PortEntrance::Reserve(TunnelInfo* ti) {
  PortAllocator* ports = ctx_.deps->ports;
  // Per-agent identity: agents[].allowed_ports (server/auth/allowed_ports.h)
  // refuses a port the identity may not use; for 0 picks one it may.
  uint32_t requested = requested_;
  if (auto denied = ApplyAllowedPorts(*ctx_.agent, *ports, &requested)) co_return denied;
  Refusal refusal;
  if (ctx_.deps->cluster) {
    port_ = co_await ReserveClusterPort(requested, &refusal);
    claimed_ = port_ != nullptr;
  } else {
    port_ = ports->Reserve(requested, &refusal);
  }
  if (!port_) co_return refusal;
  ti->remote_port = port_->port();
  ti->public_addr = net::EndpointString({ports->bind_addr(), port_->port()});
  ti->metadata["kind"] = udp_ ? "udp" : "tcp";
  ti->metadata["remote_port"] = absl::StrCat(ti->remote_port);
  co_return std::nullopt;
}

asio::awaitable<std::optional<Refusal>> PortEntrance::Start(std::shared_ptr<TunnelCore> core) {
  std::vector<asio::any_io_executor> executors;
  for (const auto& s : ctx_.shards) executors.push_back(s->executor());
  Refusal refusal;
  std::vector<asio::ip::tcp::acceptor> acceptors;
  std::vector<asio::ip::udp::socket> sockets;
  if (udp_) {
    sockets = ctx_.deps->ports->BindUdp(*port_, executors, &refusal);
  } else {
    acceptors = ctx_.deps->ports->Bind(*port_, executors, &refusal);
  }
  if (acceptors.empty() && sockets.empty()) co_return refusal;
  UdpFlowSettings flows;
  flows.idle_timeout = ctx_.deps->settings->udp_flow_idle_timeout;
  flows.max_flows_per_tunnel = ctx_.deps->settings->max_visitors_per_tunnel;
  flows.cluster = ctx_.deps->cluster;
  for (size_t w = 0; w < ctx_.shards.size(); ++w) {
    auto s = ctx_.shards[w];
    if (udp_) {
      asio::post(s->executor(), [s, core, flows, sock = std::move(sockets[w])]() mutable {
        s->StartUdpTunnel(core, std::move(sock), flows);
      });
    } else {
      asio::post(s->executor(), [s, core, acc = std::move(acceptors[w])]() mutable {
        s->StartTunnel(core, std::move(acc));
      });
    }
  }
  co_return std::nullopt;
}

asio::awaitable<void> PortEntrance::Release() {
  if (claimed_ && ctx_.deps->cluster && port_) {
    claimed_ = false;
    auto op = ctx_.deps->cluster->Release(port_->port());
    (void)co_await std::move(op);
  }
  port_.reset();  // the port may be reused from now on
}

asio::awaitable<std::unique_ptr<PortAllocator::Reservation>> PortEntrance::ReserveClusterPort(
    uint32_t requested, Refusal* refusal) {
  auto* cluster = ctx_.deps->cluster;
  auto* ports = ctx_.deps->ports;
  const std::string& owner = ctx_.claim_owner;
  const std::string& client_id = ctx_.agent->client_id;
  absl::StatusOr<cluster::ClaimResult> r;
  if (requested == 0) {
    const auto range = ports->RangeString();
    std::function<bool(uint16_t)> usable = [ports](uint16_t p) {
      return !net::ProbeListen({ports->bind_addr(), p});
    };
    auto [lo, hi] = ports->range();
    auto op = cluster->PickFree(lo, hi, owner, usable);
    r = co_await std::move(op);
    if (!r.ok() && r.status().code() == absl::StatusCode::kResourceExhausted) {
      *refusal = {wire::v1::REFUSAL_CODE_LIMIT,
                  absl::StrCat("no port of the range ", range, " is free in the cluster")};
      co_return nullptr;
    }
  } else {
    if (!ports->InRange(requested)) {
      co_return ports->Reserve(requested, refusal);  // the range refusal
    }
    auto op = cluster->Claim(static_cast<uint16_t>(requested), owner);
    r = co_await std::move(op);
  }
  if (!r.ok()) {
    log::Warn("port_claim_failed", "cannot claim the port in the cluster",
              {{"client_id", client_id}, {"name", ctx_.name},
               {"error", std::string(r.status().message())}});
    *refusal = {wire::v1::REFUSAL_CODE_UNAVAILABLE,
                "the cluster cannot confirm port ownership right now (etcd unreachable); "
                "try again later"};
    co_return nullptr;
  }
  if (!r->claimed) {
    log::Info("port_claim_refused", "port held by another agent in the cluster",
              {{"client_id", client_id}, {"name", ctx_.name}, {"port", r->port},
               {"held_by", r->held_by}});
    *refusal = {wire::v1::REFUSAL_CODE_PORT_IN_USE,
                absl::StrCat("port ", r->port, " is already in use in the cluster")};
    co_return nullptr;
  }
  auto reservation = ports->Reserve(r->port, refusal);
  if (!reservation) {
    auto release = cluster->Release(r->port);
    (void)co_await std::move(release);
  }
  co_return reservation;
}

}  // namespace reitunnel::server
