#include "server/server.h"

#include <algorithm>

#include "server/listen_address.h"
#include "absl/strings/str_cat.h"
#include "asio/experimental/as_tuple.hpp"
#include "asio/post.hpp"
#include "asio/use_awaitable.hpp"
#include "common/config/parse.h"
#include "common/log/log.h"
#include "common/net/spawn.h"
#include "common/runtime/worker_pool.h"
#include "server/cluster_mode/cluster_node.h"
#include "server/handshake/handshake.h"
#include "server/health/watchdog.h"
#include "server/hooks/hook_dispatcher.h"
#include "server/listener/agent_listener.h"
#include "server/session/agent_session.h"
#include "server/vhost/vhost_listener.h"

namespace reitunnel::server {

using asio::experimental::as_tuple;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

namespace {

AdmissionLimits MakeAdmissionLimits(const config::v1::ServerLimits& l) {
  AdmissionLimits a;
  a.max_pending = l.max_pending_handshakes();
  a.max_pending_per_source = l.max_pending_handshakes_per_source();
  a.reserved_for_known = l.reserved_handshakes();
  return a;
}

AuthThrottleOptions MakeThrottleOptions(const config::v1::ServerLimits& l) {
  AuthThrottleOptions o;
  o.max_failures = l.auth_failures_before_block();
  o.first_block = std::chrono::milliseconds(l.auth_block_ms());
  return o;
}

}  // namespace

Server::Server(asio::any_io_executor control, runtime::WorkerPool& workers,
               config::v1::ServerConfig cfg, net::SslCtxPtr tls,
               asio::ip::address public_bind_addr, uint16_t port_low, uint16_t port_high,
               std::unique_ptr<HookDispatcher> hooks)
    : control_(control),
      workers_(workers),
      cfg_(std::move(cfg)),
      tls_(tls ? std::make_unique<TlsContext>(std::move(tls)) : nullptr),
      ports_(public_bind_addr, port_low, port_high),
      hooks_(std::move(hooks)),
      admission_(MakeAdmissionLimits(cfg_.limits())),
      throttle_(MakeThrottleOptions(cfg_.limits())),
      auth_(cfg_.token()),
      housekeeping_(control),
      wake_(control) {
  settings_.max_tunnels_per_agent = cfg_.limits().max_tunnels_per_agent();
  settings_.data_pool_size = cfg_.limits().data_pool_size();
  settings_.max_visitors_per_tunnel = cfg_.limits().max_visitors_per_tunnel();
  settings_.heartbeat_interval = std::chrono::milliseconds(cfg_.timeouts().heartbeat_interval_ms());
  settings_.idle_timeout = std::chrono::milliseconds(cfg_.timeouts().idle_ms());
  settings_.udp_flow_idle_timeout = std::chrono::milliseconds(cfg_.timeouts().udp_flow_idle_ms());
  settings_.data_connection_timeout =
      std::chrono::milliseconds(cfg_.timeouts().data_connection_ms());
  running_ = cfg_;
}

Server::~Server() = default;

std::string Server::instance_id() const {
  return hooks_ ? hooks_->server_info().instance_id() : "";
}

asio::awaitable<absl::Status> Server::PrepareHooks() {
  if (!hooks_ || hooks_->empty()) co_return absl::OkStatus();
  auto wait = std::chrono::milliseconds(cfg_.hook_settings().startup_wait_ms());
  log::Info("hooks_waiting", "waiting for hooks to answer",
            {{"hooks", cfg_.hooks_size()}, {"max_wait_ms", static_cast<long long>(wait.count())}});
  std::vector<std::string> unreachable;
  absl::Status st = co_await hooks_->WaitUntilReady(wait, &unreachable);
  if (!st.ok()) co_return st;
  for (const auto& name : unreachable) {
    if (hooks_->Subscribed(HookEvent::kServerStart) &&
        hooks_->FailsClosed(name, HookEvent::kServerStart)) {
      co_return absl::UnavailableError(absl::StrCat(
          "hook ", name, " did not answer within ", wait.count(),
          " ms; it must approve the start (server_start, fail_closed), so the server stops"));
    }
    log::Warn("hook_unreachable",
              "hook did not answer at start; its failure policy decides until it does",
              {{"hook", name}});
  }
  hooks_->Start();
  co_return absl::OkStatus();
}

asio::awaitable<absl::Status> Server::CheckServerStart() {
  if (!hooks_ || !hooks_->Subscribed(HookEvent::kServerStart)) co_return absl::OkStatus();
  HookDecision d =
      co_await hooks_->Decide(HookEvent::kServerStart, hook::v1::ServerStartRequest());
  if (d.kind == HookDecision::Kind::kDeny) {
    co_return absl::PermissionDeniedError(absl::StrCat("start vetoed by hook: ", d.reason));
  }
  if (d.kind == HookDecision::Kind::kUnavailable) {
    co_return absl::UnavailableError(
        absl::StrCat("OnServerStart could not be decided (", d.reason,
                     "); the hook fails closed, so the server stops"));
  }
  co_return absl::OkStatus();
}

absl::Status Server::Start() {
  auto endpoint = ResolveListenAddress(cfg_.listen(), "listen address");
  if (!endpoint.ok()) return endpoint.status();
  HandshakeEnv env;
  env.cfg = &cfg_;
  env.tls = tls_.get();
  env.auth = &auth_;
  env.throttle = &throttle_;
  env.rejects = &rejects_;
  env.session.workers = &workers_;
  env.session.registry = &registry_;
  env.session.ports = &ports_;
  env.session.hooks = hooks_.get();
  env.session.bans = &bans_;
  env.session.active = &active_;
  env.session.draining = &draining_;
  env.session.settings = &settings_;
  env.session.cluster = cluster_.get();
  if (auto st = StartVhostListeners(); !st.ok()) return st;
  env.session.routes = &routes_;
  env.features = {"framed_relay", "tunnel_kinds"};
  listener_ = std::make_unique<AgentListener>(env, &admission_);
  if (auto st = listener_->Listen(*endpoint); !st.ok()) {
    return absl::Status(st.code(), absl::StrCat("cannot listen for agents on ", cfg_.listen(),
                                                ": ", st.message()));
  }
  if (auto st = StartWebSocketListener(env); !st.ok()) return st;
  if (hooks_) hooks_->set_listen_addr(listener_->address());
  watchdog_ = std::make_unique<Watchdog>(
      control_, workers_, std::chrono::milliseconds(1000),
      std::chrono::milliseconds(cfg_.timeouts().watchdog_ms()), [this](bool healthy) {
        if (on_health_change_) on_health_change_(healthy);
      });
  watchdog_->Start();
  net::Spawn(control_, Housekeeping(), "housekeeping");
  log::Info("agent_listener_ready", "listening for agents",
            {{"addr", listener_->address()},
             {"tls", tls_ != nullptr},
             {"workers", workers_.size()},
             {"public_ports", ports_.RangeString()}});
  return absl::OkStatus();
}

void Server::SetCluster(std::unique_ptr<ClusterNode> node) {
  cluster_ = std::move(node);
  ClusterNode::Callbacks cb;
  cb.on_replicas_changed = [this](const std::vector<wire::v1::Replica>& r) { OnReplicasChanged(r); };
  cb.on_claim_lost = [this](uint16_t port, const std::string& why) { OnClaimLost(port, why); };
  cluster_->set_callbacks(std::move(cb));
}

asio::awaitable<absl::Status> Server::JoinCluster(const std::string& admin_address,
                                                  std::chrono::milliseconds wait) {
  if (!cluster_) co_return absl::OkStatus();
  std::string agent_address = cfg_.cluster().advertise_addr().empty()
                                  ? listen_addr()
                                  : cfg_.cluster().advertise_addr();
  auto op = cluster_->Start(agent_address, admin_address, wait);
  co_return co_await std::move(op);
}

void Server::OnReplicasChanged(const std::vector<wire::v1::Replica>& replicas) {
  for (const auto& v : registry_.Snapshot()) {
    auto entry = v.entry;
    asio::post(entry->home, [entry, replicas] {
      if (auto s = entry->session.lock()) s->SendClusterUpdate(replicas);
    });
  }
}

void Server::OnClaimLost(uint16_t port, const std::string& why) {
  for (const auto& v : registry_.Snapshot()) {
    for (const auto& t : v.tunnels) {
      if (t->info().remote_port != port) continue;
      CloseTunnel(t->info().tunnel_id,
                  "this replica lost the port's cluster claim while cut off from etcd (" + why +
                      ")",
                  std::chrono::seconds(0), [](grpc::Status) {});
    }
  }
}

bool Server::data_plane_healthy() const { return !watchdog_ || watchdog_->healthy(); }

std::string Server::listen_addr() const {
  return listener_ ? listener_->address() : cfg_.listen();
}

asio::awaitable<void> Server::Housekeeping() {
  for (;;) {
    housekeeping_.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await housekeeping_.async_wait(as_tuple(use_awaitable));
    if (ec) co_return;
    rejects_.Flush();
    SweepLapsedSessionsIfDue();
  }
}

void Server::Kick(const std::string& client_id, const std::string& reason,
                  std::chrono::seconds ban, std::function<void(grpc::Status)> done) {
  auto entry = registry_.Find(client_id);
  if (!entry) {
    done(grpc::Status(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("no client with id \"", client_id.substr(0, 64), "\"")));
    return;
  }
  if (ban.count() > 0) {
    Ban b;
    b.identity = AgentIdentity(entry->info);
    b.reason = reason;
    b.until = std::chrono::system_clock::now() + ban;
    bans_.Add(b);
    log::Info("agent_banned", "agent banned",
              {{"identity", b.identity}, {"seconds", static_cast<long long>(ban.count())},
               {"reason", reason}});
  }
  asio::post(entry->home, [entry, reason, done = std::move(done)] {
    if (auto s = entry->session.lock()) s->Close(reason, /*reconnect=*/false);
    done(grpc::Status::OK);
  });
}

void Server::CloseTunnel(const std::string& tunnel_id, const std::string& reason,
                         std::chrono::seconds ban, std::function<void(grpc::Status)> done) {
  std::shared_ptr<SessionEntry> entry;
  auto tunnel = registry_.FindTunnel(tunnel_id, &entry);
  auto not_found = [&] {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no tunnel with id \"", tunnel_id.substr(0, 64), "\""));
  };
  if (!tunnel) {
    done(not_found());
    return;
  }
  if (ban.count() > 0) {
    Ban b;
    b.identity = AgentIdentity(entry->info);
    b.tunnel_name = tunnel->info().name;
    b.reason = reason;
    b.until = std::chrono::system_clock::now() + ban;
    bans_.Add(b);
    log::Info("tunnel_banned", "tunnel banned",
              {{"identity", b.identity}, {"name", b.tunnel_name},
               {"seconds", static_cast<long long>(ban.count())}, {"reason", reason}});
  }
  auto run = [](std::shared_ptr<SessionEntry> entry, std::string tunnel_id, std::string reason,
                std::function<void(grpc::Status)> done,
                grpc::Status not_found) -> asio::awaitable<void> {
    auto s = entry->session.lock();
    bool found = s && co_await s->CloseTunnel(tunnel_id, reason);
    done(found ? grpc::Status::OK : not_found);
  };
  net::Spawn(entry->home, run(entry, tunnel_id, reason, std::move(done), not_found()),
             "admin_close_tunnel");
}

void Server::Shutdown(std::function<void()> done) {
  if (draining_.exchange(true)) return;
  log::Info("shutdown_started", "shutting down: no new agents or visitors",
            {{"agents", registry_.size()}, {"drain_ms", cfg_.timeouts().drain_ms()}});
  if (listener_) listener_->Close();
  if (ws_listener_) ws_listener_->Close();
  if (cluster_) {
    cluster_->SetDraining(true);
    const auto grace = std::chrono::milliseconds(
        std::min<uint32_t>(cfg_.timeouts().drain_ms() / 2, 2000));
    net::Spawn(control_, DrainAfterGrace(grace, std::move(done)), "drain");
    return;
  }
  StopAcceptingVisitors();
  net::Spawn(control_, Drain(std::move(done)), "drain");
}

void Server::StopAcceptingVisitors() {
  CloseVhostListeners();
  for (const auto& v : registry_.Snapshot()) {
    auto entry = v.entry;
    asio::post(entry->home, [entry] {
      if (auto s = entry->session.lock()) s->StopAccepting();
    });
  }
}

asio::awaitable<void> Server::DrainAfterGrace(std::chrono::milliseconds grace,
                                              std::function<void()> done) {
  asio::steady_timer timer(control_);
  timer.expires_after(grace);
  co_await timer.async_wait(as_tuple(use_awaitable));
  StopAcceptingVisitors();
  co_await Drain(std::move(done));
}

asio::awaitable<void> Server::Drain(std::function<void()> done) {
  auto deadline = Clock::now() + std::chrono::milliseconds(cfg_.timeouts().drain_ms());
  // Wait for the last visitor (or the deadline), woken by the data plane.
  auto control = control_;
  active_.NotifyWhenIdle([this, control] { asio::post(control, [this] { wake_.cancel(); }); });
  while (active_.count() > 0 && Clock::now() < deadline) {
    wake_.expires_at(deadline);
    co_await wake_.async_wait(as_tuple(use_awaitable));
  }
  size_t cut = active_.count();
  registry_.SetOnEmpty([this, control] { asio::post(control, [this] { wake_.cancel(); }); });
  for (const auto& v : registry_.Snapshot()) {
    auto entry = v.entry;
    asio::post(entry->home, [entry] {
      if (auto s = entry->session.lock()) s->Close("server shutting down", /*reconnect=*/true);
    });
  }
  // Sessions finish their teardown (exact totals, OnTunnelClose) before the
  // loop stops; bounded in case a worker is wedged.
  auto hard = Clock::now() + std::chrono::seconds(5);
  while (registry_.size() > 0 && Clock::now() < hard) {
    wake_.expires_at(hard);
    co_await wake_.async_wait(as_tuple(use_awaitable));
  }
  if (watchdog_) watchdog_->Stop();
  housekeeping_.cancel();
  if (cluster_) {
    // Peers see this replica leave at once (its lease is revoked).
    auto stop = cluster_->Stop();
    co_await std::move(stop);
  }
  rejects_.Flush(/*force=*/true);
  if (hooks_) {
    hook::v1::ServerStopRequest stop;
    stop.set_reason("signal");
    hooks_->Notify(HookEvent::kServerStop, std::move(stop));
    // Let posted notifications (this one, the sessions' last ones) reach
    // the queues before the dispatcher drains them.
    co_await asio::post(control_, use_awaitable);
    co_await hooks_->Shutdown(std::chrono::seconds(3));
  }
  log::Info("shutdown_complete", "shutdown complete", {{"visitors_cut", cut}});
  done();
}

}  // namespace reitunnel::server
