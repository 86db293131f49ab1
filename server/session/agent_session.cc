#include "server/session/agent_session.h"

#include "absl/strings/str_cat.h"
#include "asio/experimental/as_tuple.hpp"
#include "asio/post.hpp"
#include "asio/use_awaitable.hpp"
#include <algorithm>
#include <functional>

#include "common/log/log.h"
#include "common/net/listener.h"
#include "common/net/spawn.h"
#include "common/runtime/run_on_each.h"
#include "common/runtime/worker_pool.h"
#include "common/wire/auth.h"
#include "common/wire/frame.h"
#include "server/auth/allowed_ports.h"
#include "server/auth/identity_metadata.h"
#include "server/cluster_mode/cluster_node.h"
#include "server/hooks/hook_dispatcher.h"
#include "server/session/session_shard.h"

namespace reitunnel::server {
namespace {

using asio::experimental::as_tuple;
using asio::use_awaitable;

// A peer whose replies pile up beyond this is not read from until they
// drain; one that never drains is cut off by the idle watchdog.
constexpr size_t kHighWater = 64 * 1024;
constexpr size_t kLowWater = 16 * 1024;

bool ValidTunnelName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string CodeName(wire::v1::RefusalCode code) {
  std::string name = wire::v1::RefusalCode_Name(code);
  return name.rfind("REFUSAL_CODE_", 0) == 0 ? name.substr(13) : name;
}

uint32_t MillisUntil(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                t - std::chrono::system_clock::now())
                .count();
  return ms > 0 ? static_cast<uint32_t>(std::min<int64_t>(ms, 0x7fffffff)) : 0;
}

}  // namespace

std::string TunnelKindName(wire::v1::TunnelKind kind) {
  switch (kind) {
    case wire::v1::TUNNEL_KIND_HTTP:
      return "http";
    case wire::v1::TUNNEL_KIND_TLS:
      return "tls";
    case wire::v1::TUNNEL_KIND_UDP:
      return "udp";
    default:
      return "tcp";
  }
}

absl::StatusOr<std::shared_ptr<AgentSession>> AgentSession::Create(
    const SessionDeps& deps, AgentInfo info, std::string session_key, int home_worker,
    std::shared_ptr<net::BufferedStream> control, size_t max_agents) {
  // Every link of a session comes over the transport its control
  // connection came over.
  const bool links_movable = dynamic_cast<net::Conn*>(control->inner().get()) != nullptr;
  auto entry = std::make_shared<SessionEntry>();
  entry->info = std::move(info);
  entry->session_key = std::move(session_key);
  entry->home_worker = home_worker;
  entry->home = deps.workers->executor(home_worker);
  auto session =
      std::shared_ptr<AgentSession>(new AgentSession(deps, entry, std::move(control)));
  entry->session = session;
  ShardSettings ss;
  ss.client_id = entry->info.client_id;
  ss.framed = entry->info.HasFeature("framed_relay");
  ss.links_movable = links_movable;
  ss.data_connection_timeout = deps.settings->data_connection_timeout;
  ss.max_visitors_per_tunnel = deps.settings->max_visitors_per_tunnel;
  ss.cluster = deps.cluster;
  std::weak_ptr<AgentSession> weak = session;
  auto home = entry->home;
  auto request_links = [weak, home](uint32_t n) {
    asio::post(home, [weak, n] {
      if (auto s = weak.lock()) s->RequestLinks(n);
    });
  };
  std::vector<std::weak_ptr<SessionShard>> siblings;
  for (int w = 0; w < deps.workers->size(); ++w) {
    entry->shards.push_back(std::make_shared<SessionShard>(
        w, deps.workers->executor(w), ss, deps.hooks, deps.active, request_links));
    siblings.push_back(entry->shards.back());
  }
  for (auto& s : entry->shards) s->SetSiblings(siblings);
  std::shared_ptr<SessionEntry> replaced;
  if (auto st = deps.registry->TryAdd(entry, max_agents, &replaced); !st.ok()) return st;
  if (replaced) {
    // The same agent reconnected before its old session noticed: the old
    // one goes (its tunnels close, the new session reopens them).
    log::Info("agent_session_replaced", "a new connection of the same agent replaces its session",
              {{"client_id", entry->info.client_id}});
    asio::post(replaced->home, [replaced] {
      if (auto s = replaced->session.lock()) {
        s->Close("replaced by a new connection of the same agent", /*reconnect=*/true);
      }
    });
  }
  return session;
}

AgentSession::AgentSession(const SessionDeps& deps, std::shared_ptr<SessionEntry> entry,
                           std::shared_ptr<net::BufferedStream> control)
    : deps_(deps),
      entry_(std::move(entry)),
      control_(std::move(control)),
      writer_(std::make_shared<net::FrameWriter>(entry_->home, control_)),
      watchdog_(entry_->home) {}

std::vector<asio::any_io_executor> AgentSession::ShardExecutors() const {
  std::vector<asio::any_io_executor> out;
  for (auto& s : entry_->shards) out.push_back(s->executor());
  return out;
}

std::map<std::string, std::string> AgentSession::Metadata() const {
  const auto& i = entry_->info;
  std::map<std::string, std::string> md;
  md["remote_addr"] = i.remote_addr;
  md["agent_version"] = i.agent_version;
  md["client_id"] = i.client_id;
  md["instance_id"] = i.instance_id;
  AddIdentityMetadata(i, md);  // agent_id only when verified, tls.*
  if (deps_.cluster) md["replica_id"] = deps_.cluster->replica_id();
  for (const auto& [k, v] : i.labels) md["label." + k] = v;
  return md;
}

asio::awaitable<void> AgentSession::Run(wire::v1::Frame welcome) {
  auto self = shared_from_this();
  const auto& info = entry_->info;
  writer_->Send(welcome);
  log::Info("agent_connected", "agent connected",
            {{"client_id", info.client_id},
             {"remote_addr", info.remote_addr},
             {"agent_version", info.agent_version},
             {"agent_id", info.agent_id},
             {"worker", entry_->home_worker}});
  last_rx_ = std::chrono::steady_clock::now();
  net::Spawn(entry_->home, Watchdog(), "agent_watchdog");
  std::string reason = "agent closed the connection";
  try {
    while (!closed_) {
      // Backpressure: a peer that does not read our replies is not read
      // from either; its requests stay in its own socket buffers.
      if (writer_->queued_bytes() >= kHighWater) co_await writer_->WaitBelow(kLowWater);
      wire::v1::Frame frame = co_await net::ReadFrame(*control_);
      last_rx_ = std::chrono::steady_clock::now();
      switch (frame.msg_case()) {
        case wire::v1::Frame::kOpenTunnel:
          // Awaited in line: a hook deciding on this tunnel pauses only this
          // agent's control loop, and keeps its requests in order.
          co_await HandleOpenTunnel(std::move(*frame.mutable_open_tunnel()));
          break;
        case wire::v1::Frame::kPing: {
          wire::v1::Frame pong;
          pong.mutable_pong()->set_seq(frame.ping().seq());
          writer_->Send(pong);
          break;
        }
        case wire::v1::Frame::kPong:
          break;
        case wire::v1::Frame::kRetireDataConns:
          Retire(frame.retire_data_conns().count());
          break;
        default:
          throw net::ProtocolError(
              absl::StrCat("unexpected ", wire::MessageName(frame), " on control connection"));
      }
    }
  } catch (const net::ProtocolError& e) {
    reason = absl::StrCat("protocol error: ", e.what());
    wire::v1::Frame refused;
    refused.mutable_refused()->set_code(wire::v1::REFUSAL_CODE_BAD_REQUEST);
    refused.mutable_refused()->set_reason(e.what());
    writer_->Send(refused);
    writer_->CloseWhenDrained();
  } catch (const std::system_error& e) {
    if (e.code() != asio::error::eof) reason = e.code().message();
  }
  if (writer_->overflowed()) reason = "agent stopped reading the control connection";
  if (!close_reason_.empty()) reason = close_reason_;
  closed_ = true;
  watchdog_.cancel();

  std::vector<Open> open;
  for (auto& [_, t] : tunnels_) open.push_back(std::move(t));
  tunnels_.clear();
  co_await FinishTunnels(std::move(open), reason);
  auto shards = entry_->shards;
  // Named, not a temporary in the co_await expression: GCC 12 miscompiles
  // capturing lambdas created there.
  std::function<void(size_t)> close_shard = [shards](size_t i) { shards[i]->Close(); };
  co_await runtime::RunOnEach(ShardExecutors(), close_shard);
  control_->Close();
  log::Info("agent_disconnected", "agent disconnected",
            {{"client_id", info.client_id}, {"reason", reason}});
  // Before leaving the registry: a drain that waits for it to empty sends
  // OnServerStop after every OnClientDisconnect.
  if (deps_.hooks) {
    hook::v1::ClientDisconnectRequest req;
    req.set_client_id(info.client_id);
    auto md = Metadata();
    req.mutable_metadata()->insert(md.begin(), md.end());
    req.set_reason(reason);
    deps_.hooks->Notify(HookEvent::kClientDisconnect, std::move(req));
  }
  deps_.registry->Remove(*entry_);
}

asio::awaitable<void> AgentSession::Watchdog() {
  auto self = shared_from_this();
  const auto idle = deps_.settings->idle_timeout;
  while (!closed_) {
    watchdog_.expires_after(idle / 4);
    auto [ec] = co_await watchdog_.async_wait(as_tuple(use_awaitable));
    if (ec || closed_) co_return;
    if (std::chrono::steady_clock::now() - last_rx_ > idle) {
      close_reason_ = writer_->queued_bytes() >= kHighWater
                          ? "agent stopped reading the control connection"
                          : "heartbeat timeout";
      control_->Close();
      co_return;
    }
  }
}

void AgentSession::Close(const std::string& reason, bool reconnect) {
  if (closed_) return;
  close_reason_ = reason;
  wire::v1::Frame bye;
  bye.mutable_goodbye()->set_reason(reason);
  bye.mutable_goodbye()->set_reconnect(reconnect);
  writer_->Send(bye);
  // The goodbye carries the reason the agent prints, so let it go out first;
  // a peer that doesn't read gets cut off by the guard timer.
  writer_->CloseWhenDrained();
  auto guard = std::make_shared<asio::steady_timer>(entry_->home, std::chrono::seconds(1));
  guard->async_wait([guard, c = control_](const asio::error_code& ec) {
    if (!ec) c->Close();
  });
}

void AgentSession::StopAccepting() {
  auto shards = entry_->shards;
  for (auto& s : shards) asio::post(s->executor(), [s] { s->StopAcceptingAll(); });
}

void AgentSession::SendClusterUpdate(const std::vector<wire::v1::Replica>& replicas) {
  if (closed_) return;
  wire::v1::Frame f;
  for (const auto& r : replicas) *f.mutable_cluster_update()->add_replicas() = r;
  f.mutable_cluster_update();
  writer_->Send(f);
}

std::string AgentSession::ClaimOwner(const std::string& tunnel_name) const {
  // One tunnel of one agent process: the same on every replica, different
  // for two tunnels (which must never share a port) and for two agents.
  const auto& i = entry_->info;
  return absl::StrCat(AgentIdentity(i), "/", i.instance_id.empty() ? i.client_id : i.instance_id,
                      "/", tunnel_name);
}

void AgentSession::RequestLinks(uint32_t n) {
  if (closed_) return;
  wire::v1::Frame f;
  f.mutable_need_data_conns()->set_count(n);
  writer_->Send(f);
}

void AgentSession::Retire(uint32_t n) {
  // Retire from the shards with the most idle links first (they read their
  // counts without a hop; the retire itself runs on each shard's worker).
  auto shards = entry_->shards;
  std::vector<std::pair<int, size_t>> order;
  for (size_t i = 0; i < shards.size(); ++i) order.push_back({shards[i]->idle_links(), i});
  std::sort(order.rbegin(), order.rend());
  uint32_t left = n;
  for (auto [idle, i] : order) {
    if (left == 0 || idle <= 0) break;
    uint32_t take = std::min<uint32_t>(left, static_cast<uint32_t>(idle));
    left -= take;
    auto s = shards[i];
    asio::post(s->executor(), [s, take] { s->RetireLinks(take); });
  }
}

void AgentSession::RefuseTunnel(const std::string& name, const wire::v1::OpenTunnel& req,
                                wire::v1::RefusalCode code, const std::string& reason,
                                uint32_t retry_after_ms) {
  log::Warn("tunnel_refused", "tunnel refused",
            {{"client_id", entry_->info.client_id},
             {"name", name},
             {"code", CodeName(code)},
             {"reason", reason}});
  RequestedTunnel r;
  r.name = name;
  r.requested_port = req.remote_port();
  r.local_addr = req.local_addr().substr(0, 256);
  r.kind = TunnelKindName(req.kind());
  r.hostname = req.hostname().substr(0, 253);
  r.state = RequestedTunnel::State::kRefused;
  r.last_code = code;
  r.last_reason = reason;
  deps_.registry->SetRequested(*entry_, r);
  wire::v1::Frame f;
  auto* tr = f.mutable_tunnel_refused();
  tr->set_name(name);
  tr->set_code(code);
  tr->set_reason(reason);
  if (retry_after_ms) tr->set_retry_after_ms(retry_after_ms);
  writer_->Send(f);
}

asio::awaitable<void> AgentSession::HandleOpenTunnel(wire::v1::OpenTunnel req) {
  auto self = shared_from_this();
  const auto& info = entry_->info;
  // The name is echoed back and logged, so bound it before anything else.
  std::string name = req.name().substr(0, 64);
  if (!ValidTunnelName(req.name())) {
    RefuseTunnel(name, req, wire::v1::REFUSAL_CODE_BAD_REQUEST,
                 "invalid tunnel name (expected 1-64 of [A-Za-z0-9_.-])");
    co_return;
  }
  if (deps_.draining->load()) {
    RefuseTunnel(name, req, wire::v1::REFUSAL_CODE_UNAVAILABLE, "server is shutting down");
    co_return;
  }
  if (tunnels_.count(name)) {
    RefuseTunnel(name, req, wire::v1::REFUSAL_CODE_BAD_REQUEST,
                 absl::StrCat("tunnel \"", name, "\" is already open for this agent"));
    co_return;
  }
  const uint32_t max_tunnels = deps_.settings->max_tunnels_per_agent;
  if (tunnels_.size() >= max_tunnels) {
    RefuseTunnel(name, req, wire::v1::REFUSAL_CODE_LIMIT,
                 absl::StrCat("agent already has the maximum of ", max_tunnels, " tunnels"));
    co_return;
  }
  if (auto ban = deps_.bans->ForTunnel(AgentIdentity(info), name)) {
    RefuseTunnel(name, req, wire::v1::REFUSAL_CODE_BANNED,
                 absl::StrCat("tunnel banned by an operator: ", ban->reason),
                 MillisUntil(ban->until));
    co_return;
  }
  {
    RequestedTunnel r;
    r.name = name;
    r.requested_port = req.remote_port();
    r.local_addr = req.local_addr().substr(0, 256);
    r.kind = TunnelKindName(req.kind());
    r.hostname = req.hostname().substr(0, 253);
    deps_.registry->SetRequested(*entry_, r);
  }
  EntranceContext ctx;
  ctx.deps = &deps_;
  ctx.agent = &entry_->info;
  ctx.shards = entry_->shards;
  ctx.name = name;
  ctx.claim_owner = ClaimOwner(name);
  Refusal refusal;
  std::unique_ptr<Entrance> entrance = MakeEntrance(req, std::move(ctx), &refusal);
  if (!entrance) {
    RefuseTunnel(name, req, refusal.code, refusal.reason);
    co_return;
  }
  // The port or host name is held before the hook decides, so the hook is
  // told what will be served, and a veto leaves nothing bound.
  TunnelInfo ti = DescribeTunnel(name, req);
  std::optional<Refusal> refused = co_await entrance->Reserve(&ti);
  if (closed_ || refused) {
    co_await entrance->Release();
    if (!closed_) RefuseTunnel(name, req, refused->code, refused->reason);
    co_return;
  }
  auto core = std::make_shared<TunnelCore>(ti, static_cast<int>(entry_->shards.size()));

  std::optional<HookDecision> d = co_await DecideTunnelOpen(ti);
  if (closed_ || (d && !d->allowed())) {
    co_await entrance->Release();
    if (!closed_) RefusedByHook(d, name, req);
    co_return;
  }
  refused = co_await entrance->Start(core);
  if (refused || closed_) {
    // The hook allowed an open that did not happen: balance it with a close
    // carrying the reason, so a hook's accounting never drifts.
    if (d) {
      BalanceAllowedOpen(core, absl::StrCat("failed to open: ",
                                            refused ? refused->reason : "the agent disconnected"));
    }
    entrance->StopReaching();
    co_await entrance->Release();
    if (refused && !closed_) RefuseTunnel(name, req, refused->code, refused->reason);
    co_return;  // a session that closed meanwhile stops its shards' tunnels itself
  }
  Open open;
  open.core = core;
  open.entrance = std::move(entrance);
  TunnelIsOpen(name, req, std::move(open));
}

TunnelInfo AgentSession::DescribeTunnel(const std::string& name,
                                        const wire::v1::OpenTunnel& req) const {
  TunnelInfo ti;
  ti.tunnel_id = wire::RandomId(8);
  ti.name = name;
  ti.client_id = entry_->info.client_id;
  ti.local_addr = req.local_addr().substr(0, 256);
  ti.metadata = Metadata();
  ti.metadata["tunnel_name"] = name;
  ti.metadata["local_addr"] = ti.local_addr;
  ti.metadata["requested_port"] = absl::StrCat(req.remote_port());
  ti.metadata["kind"] = "tcp";
  return ti;
}

asio::awaitable<std::optional<HookDecision>> AgentSession::DecideTunnelOpen(const TunnelInfo& ti) {
  auto* hooks = deps_.hooks;
  if (!hooks || !hooks->Subscribed(HookEvent::kTunnelOpen)) co_return std::nullopt;
  hook::v1::TunnelOpenRequest hr;
  hr.set_client_id(ti.client_id);
  hr.set_tunnel_id(ti.tunnel_id);
  hr.mutable_metadata()->insert(ti.metadata.begin(), ti.metadata.end());
  hr.set_tunnel_name(ti.name);
  hr.set_remote_port(ti.remote_port);
  hr.set_local_addr(ti.local_addr);
  HookDecision d = co_await hooks->Decide(HookEvent::kTunnelOpen, std::move(hr));
  co_return d;
}

bool AgentSession::RefusedByHook(const std::optional<HookDecision>& d, const std::string& name,
                                 const wire::v1::OpenTunnel& req) {
  if (!d || d->allowed()) return false;
  // Only the hook's own DENY is permanent; its failure policy's refusal is
  // retryable.
  RefuseTunnel(name, req,
               d->kind == HookDecision::Kind::kDeny ? wire::v1::REFUSAL_CODE_DENIED
                                                    : wire::v1::REFUSAL_CODE_UNAVAILABLE,
               d->reason);
  return true;
}

void AgentSession::BalanceAllowedOpen(const std::shared_ptr<TunnelCore>& core,
                                      const std::string& reason) {
  // The hook allowed an open that did not happen: balance it with a close
  // carrying the reason, so a hook's accounting never drifts.
  const auto& ti = core->info();
  hook::v1::TunnelCloseRequest cr;
  cr.set_client_id(ti.client_id);
  cr.set_tunnel_id(ti.tunnel_id);
  cr.mutable_metadata()->insert(ti.metadata.begin(), ti.metadata.end());
  cr.set_reason(reason);
  cr.set_remote_port(ti.remote_port);
  deps_.hooks->TunnelsClosed({core}, {std::move(cr)});
}

void AgentSession::TunnelIsOpen(const std::string& name, const wire::v1::OpenTunnel& req,
                                Open open) {
  auto core = open.core;
  const auto& ti = core->info();
  tunnels_[name] = std::move(open);
  deps_.registry->SetTunnel(*entry_, core);
  if (deps_.hooks) deps_.hooks->TunnelOpened(core);
  {
    RequestedTunnel r;
    r.name = name;
    r.requested_port = req.remote_port();
    r.local_addr = ti.local_addr;
    r.kind = TunnelKindName(req.kind());
    r.hostname = req.hostname().substr(0, 253);
    r.state = RequestedTunnel::State::kOpen;
    r.tunnel_id = ti.tunnel_id;
    deps_.registry->SetRequested(*entry_, r);
  }
  auto kind = ti.metadata.find("kind");
  auto hostname = ti.metadata.find("hostname");
  log::Info("tunnel_open", "tunnel open",
            {{"client_id", ti.client_id},
             {"tunnel_id", ti.tunnel_id},
             {"name", name},
             {"kind", kind == ti.metadata.end() ? "tcp" : kind->second},
             {"hostname", hostname == ti.metadata.end() ? "" : hostname->second},
             {"remote_port", ti.remote_port},
             {"local_addr", ti.local_addr}});
  wire::v1::Frame f;
  auto* o = f.mutable_tunnel_opened();
  o->set_name(name);
  o->set_tunnel_id(ti.tunnel_id);
  o->set_remote_port(ti.remote_port);
  writer_->Send(f);
}

asio::awaitable<bool> AgentSession::CloseTunnel(const std::string& tunnel_id,
                                                const std::string& reason) {
  auto self = shared_from_this();
  for (auto it = tunnels_.begin(); it != tunnels_.end(); ++it) {
    if (it->second.core->info().tunnel_id != tunnel_id) continue;
    std::string name = it->first;
    std::vector<Open> one;
    one.push_back(std::move(it->second));
    tunnels_.erase(it);
    {
      RequestedTunnel r;
      r.name = name;
      r.state = RequestedTunnel::State::kClosed;
      r.last_reason = reason;
      deps_.registry->SetRequested(*entry_, r);
    }
    co_await FinishTunnels(std::move(one), reason);
    wire::v1::Frame f;
    auto* c = f.mutable_tunnel_closed();
    c->set_name(name);
    c->set_tunnel_id(tunnel_id);
    c->set_reason(reason);
    writer_->Send(f);
    co_return true;
  }
  co_return false;
}

asio::awaitable<void> AgentSession::FinishTunnels(std::vector<Open> tunnels,
                                                  const std::string& reason) {
  if (tunnels.empty()) co_return;
  std::vector<std::string> ids;
  for (auto& t : tunnels) {
    ids.push_back(t.core->info().tunnel_id);
    t.entrance->StopReaching();  // no new visitor reaches it from now on
  }
  auto shards = entry_->shards;
  std::function<void(size_t)> stop = [shards, ids](size_t i) {
    for (const auto& id : ids) shards[i]->StopTunnel(id);
  };
  co_await runtime::RunOnEach(ShardExecutors(), stop);
  // Every worker has stopped these tunnels and we synchronized with each
  // through its post back: the counters are final and exact.
  std::vector<std::shared_ptr<TunnelCore>> cores;
  std::vector<hook::v1::TunnelCloseRequest> closes;
  for (auto& t : tunnels) {
    const auto& ti = t.core->info();
    TunnelTotals totals = t.core->Totals();
    deps_.registry->AddClosedTotals(totals);
    deps_.registry->RemoveTunnel(*entry_, ti.tunnel_id);
    log::Info("tunnel_closed", "tunnel closed",
              {{"client_id", ti.client_id},
               {"tunnel_id", ti.tunnel_id},
               {"name", ti.name},
               {"remote_port", ti.remote_port},
               {"bytes_in", totals.bytes_in},
               {"bytes_out", totals.bytes_out},
               {"visitors", totals.visitors_opened},
               {"reason", reason}});
    hook::v1::TunnelCloseRequest req;
    req.set_client_id(ti.client_id);
    req.set_tunnel_id(ti.tunnel_id);
    req.mutable_metadata()->insert(ti.metadata.begin(), ti.metadata.end());
    req.set_reason(reason);
    req.set_bytes_received(totals.bytes_in);
    req.set_bytes_sent(totals.bytes_out);
    req.set_visitors(totals.visitors_opened);
    req.set_remote_port(ti.remote_port);
    cores.push_back(t.core);
    closes.push_back(std::move(req));
    co_await t.entrance->Release();  // the port (claim) may be reused from now on
  }
  // One batch with every tunnel's last traffic, then the closes: one stream
  // turnover for all of them.
  if (deps_.hooks) deps_.hooks->TunnelsClosed(std::move(cores), std::move(closes));
}

}  // namespace reitunnel::server
