#include "client/agent.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "asio/experimental/as_tuple.hpp"
#include "asio/use_awaitable.hpp"
#include "client/data_link.h"
#include "client/routed_request.h"
#include "common/log/log.h"
#include "common/net/deadline.h"
#include "common/net/spawn.h"
#include "common/runtime/worker_pool.h"
#include "common/version.h"
#include "common/wire/auth.h"
#include "common/wire/frame.h"

namespace reitunnel::client {

using asio::experimental::as_tuple;
using asio::use_awaitable;
using wire::v1::Frame;

namespace {

std::string CodeName(wire::v1::RefusalCode code) {
  std::string name = wire::v1::RefusalCode_Name(code);
  constexpr std::string_view kPrefix = "REFUSAL_CODE_";
  return name.rfind(kPrefix, 0) == 0 ? name.substr(kPrefix.size()) : name;
}

// A refused tunnel that may open later without anyone changing the config.
bool Retryable(wire::v1::RefusalCode code) {
  return code == wire::v1::REFUSAL_CODE_PORT_IN_USE || code == wire::v1::REFUSAL_CODE_HOSTNAME_IN_USE ||
         code == wire::v1::REFUSAL_CODE_UNAVAILABLE || code == wire::v1::REFUSAL_CODE_BANNED;
}

FailureKind Classify(const std::error_code& ec) {
  if (ec == asio::error::connection_refused || ec == asio::error::connection_reset ||
      ec == asio::error::eof) {
    return FailureKind::kRefused;
  }
  return FailureKind::kUnreachable;
}

}  // namespace

Agent::Agent(runtime::WorkerPool& workers, config::v1::AgentConfig cfg, net::SslCtxPtr tls)
    : workers_(workers),
      ex_(workers.executor(0)),
      cfg_(std::move(cfg)),
      tls_(std::move(tls)),
      dialer_(cfg_, tls_.get()),
      instance_id_(wire::RandomId(8)),
      backoff_(std::chrono::milliseconds(cfg_.reconnect().initial_backoff_ms()),
               std::chrono::milliseconds(cfg_.reconnect().max_backoff_ms()),
               std::chrono::milliseconds(2000)),
      backoff_timer_(ex_),
      wake_(ex_),
      rng_(std::random_device{}()) {}

Agent::~Agent() = default;

void Agent::Stop() {
  asio::post(ex_, [this] {
    stopping_ = true;
    backoff_timer_.cancel();
    Wake();
    for (auto& [_, s] : sessions_) {
      s->closed = true;
      s->control->Close();
    }
  });
}

bool Agent::NeedConnection() const {
  if (sessions_.empty()) return true;
  if (!cluster_) return false;
  for (const auto& [id, r] : replicas_) {
    if (!r.draining() && !sessions_.count(id)) return true;
  }
  return false;
}

void Agent::UpdateReplicas(const google::protobuf::RepeatedPtrField<wire::v1::Replica>& replicas) {
  replicas_.clear();
  for (const auto& r : replicas) replicas_[r.replica_id()] = r;
  Wake();
}

asio::awaitable<int> Agent::Run() {
  while (!stopping_) {
    if (fatal_) break;
    if (!NeedConnection()) {
      // Woken when a session ends or the replica set changes.
      wake_.expires_at(asio::steady_timer::time_point::max());
      co_await wake_.async_wait(as_tuple(use_awaitable));
      continue;
    }
    Attempt a = co_await Connect();
    if (stopping_ || a.kind == Attempt::Kind::kStopped) break;
    if (a.kind == Attempt::Kind::kFatal) {
      fatal_ = true;
      break;
    }
    std::chrono::milliseconds delay{0};
    if (a.kind == Attempt::Kind::kConnected) {
      auto s = a.session;
      sessions_[s->replica_id] = s;
      net::Spawn(ex_, ServeSession(s), "agent_session");
      continue;
    }
    if (a.kind == Attempt::Kind::kDuplicate) {
      // The load balancer sent us to a replica we already hold: dial again
      // soon, jittered, until we reach the others.
      std::uniform_int_distribution<int> dist(50, 300);
      delay = std::chrono::milliseconds(dist(rng_));
    } else {
      delay = std::max(a.retry_after, backoff_.Next(attempt_++, a.failure));
      log::Info("reconnecting", "reconnecting to the server",
                {{"delay_ms", static_cast<long long>(delay.count())}, {"attempt", attempt_}});
    }
    backoff_timer_.expires_after(delay);
    co_await backoff_timer_.async_wait(as_tuple(use_awaitable));
  }
  // Stop every session and wait for them to unwind (bounded by their own
  // closing sockets).
  for (auto& [_, s] : sessions_) {
    s->closed = true;
    s->control->Close();
  }
  while (!sessions_.empty()) {
    wake_.expires_after(std::chrono::seconds(2));
    auto [ec] = co_await wake_.async_wait(as_tuple(use_awaitable));
    if (!ec) break;
  }
  co_return fatal_ && !stopping_ ? 1 : 0;
}

asio::awaitable<Agent::Attempt> Agent::Connect() {
  const std::string server = cfg_.server();
  std::shared_ptr<net::BufferedStream> control;
  Frame answer;
  try {
    control = std::make_shared<net::BufferedStream>(co_await dialer_.Dial());
    // The handshake must complete in time, like every other wait.
    net::Deadline deadline(ex_, std::chrono::milliseconds(cfg_.connect_timeout_ms()),
                           [control] { control->Close(); });
    Frame challenge = co_await net::ReadFrame(*control);
    if (!challenge.has_challenge()) throw net::ProtocolError("server did not send a challenge");
    Frame hello;
    auto* h = hello.mutable_hello();
    h->set_kind(wire::v1::CONNECTION_KIND_CONTROL);
    // With --agent-id: proven with SHA-256(own token), the id in the MAC.
    h->set_agent_id(cfg_.agent_id());
    h->set_mac(wire::HandshakeMac(wire::AgentProofKey(cfg_.token(), cfg_.agent_id()),
                                  wire::v1::CONNECTION_KIND_CONTROL,
                                  challenge.challenge().nonce(), cfg_.agent_id()));
    h->set_agent_version(kVersion);
    h->set_instance_id(instance_id_);
    h->add_features("framed_relay");
    h->add_features("tunnel_kinds");
    for (const auto& [k, v] : cfg_.labels()) (*h->mutable_labels())[k] = v;
    for (const auto& [id, _] : sessions_) {
      if (!id.empty()) h->add_connected_replicas(id);
    }
    co_await net::WriteFrame(*control, hello);
    answer = co_await net::ReadFrame(*control);
    if (deadline.expired()) throw std::system_error(asio::error::timed_out);
  } catch (const net::ProtocolError& e) {
    log::Warn("connect_failed", "cannot connect to the server",
              {{"server", server}, {"error", e.what()}});
    if (control) control->Close();
    Attempt a;
    a.kind = stopping_ ? Attempt::Kind::kStopped : Attempt::Kind::kRetry;
    co_return a;
  } catch (const std::system_error& e) {
    log::Warn("connect_failed", "cannot connect to the server",
              {{"server", server}, {"error", e.code().message()}});
    if (control) control->Close();
    Attempt a;
    a.kind = stopping_ ? Attempt::Kind::kStopped : Attempt::Kind::kRetry;
    a.failure = Classify(e.code());
    co_return a;
  }
  if (answer.has_refused()) {
    control->Close();
    const auto& r = answer.refused();
    Attempt a;
    a.failure = FailureKind::kServerRefused;
    a.retry_after = std::chrono::milliseconds(r.retry_after_ms());
    switch (r.code()) {
      case wire::v1::REFUSAL_CODE_ALREADY_CONNECTED:
        a.kind = Attempt::Kind::kDuplicate;
        break;
      case wire::v1::REFUSAL_CODE_DENIED:
        // Only a hook's own DENY is permanent.
        log::Error("agent_denied", absl::StrCat("server policy refused this agent: ", r.reason()),
                   {{"server", server}, {"reason", r.reason()}});
        a.kind = Attempt::Kind::kFatal;
        break;
      case wire::v1::REFUSAL_CODE_AUTH_FAILED:
        log::Error("auth_refused", absl::StrCat("server refused authentication: ", r.reason()),
                   {{"server", server}, {"reason", r.reason()}});
        a.kind = Attempt::Kind::kFatal;
        break;
      case wire::v1::REFUSAL_CODE_BANNED:
        log::Error("banned", absl::StrCat("banned by the server: ", r.reason()),
                   {{"server", server},
                    {"reason", r.reason()},
                    {"retry_after_ms", r.retry_after_ms()}});
        break;
      default:
        log::Warn("connect_refused", absl::StrCat("server refused the connection: ", r.reason()),
                  {{"server", server}, {"code", CodeName(r.code())}, {"reason", r.reason()}});
    }
    co_return a;
  }
  if (!answer.has_welcome()) {
    control->Close();
    log::Warn("connect_failed", "cannot connect to the server",
              {{"server", server}, {"error", "server did not send welcome"}});
    co_return Attempt{};
  }
  const auto& w = answer.welcome();
  if (!w.replica_id().empty()) {
    cluster_ = true;
    UpdateReplicas(w.replicas());
    if (sessions_.count(w.replica_id())) {
      // An older server that ignores connected_replicas: drop the duplicate.
      control->Close();
      Attempt a;
      a.kind = Attempt::Kind::kDuplicate;
      co_return a;
    }
  }
  auto s = std::make_shared<Session>(ex_, w.data_pool_size());
  s->control = control;
  s->replica_id = w.replica_id();
  s->client_id = w.client_id();
  s->session_key = wire::DeriveSessionKey(wire::AgentProofKey(cfg_.token(), cfg_.agent_id()),
                                          w.session_nonce(), w.client_id());
  s->framed = std::find(w.features().begin(), w.features().end(), "framed_relay") !=
              w.features().end();
  s->tunnel_kinds = std::find(w.features().begin(), w.features().end(), "tunnel_kinds") !=
                    w.features().end();
  if (w.heartbeat_interval_ms() > 0) {
    s->heartbeat_interval = std::chrono::milliseconds(w.heartbeat_interval_ms());
  }
  if (w.idle_timeout_ms() > 0) s->idle_timeout = std::chrono::milliseconds(w.idle_timeout_ms());
  s->writer = std::make_shared<net::FrameWriter>(ex_, s->control);
  s->last_rx = std::chrono::steady_clock::now();
  std::weak_ptr<Session> weak = s;
  s->Refill = [this, weak] {
    if (auto sp = weak.lock()) Refill(sp);
  };
  log::Info("connected", "connected to the server",
            {{"server", server},
             {"client_id", s->client_id},
             {"replica_id", s->replica_id},
             {"framed", s->framed}});
  Attempt a;
  a.kind = Attempt::Kind::kConnected;
  a.session = s;
  co_return a;
}

asio::awaitable<void> Agent::ServeSession(std::shared_ptr<Session> s) {
  for (const auto& t : cfg_.tunnels()) OpenTunnel(*s, t.name());
  if (AllTunnelsPermanentlyRefused(*s)) {
    log::Info("no_tunnels", "exiting: no tunnel could be opened");
    s->fatal = true;
    s->closed = true;
    s->control->Close();
  }
  Refill(s);
  net::Spawn(ex_, Heartbeat(s), "heartbeat");
  std::string reason = "server closed the connection";
  try {
    while (!s->closed) {
      Frame f = co_await net::ReadFrame(*s->control);
      s->last_rx = std::chrono::steady_clock::now();
      HandleFrame(s, f, &reason);
    }
  } catch (const net::ProtocolError& e) {
    reason = absl::StrCat("protocol error: ", e.what());
  } catch (const std::system_error& e) {
    if (!s->end_reason.empty()) {
      reason = s->end_reason;
    } else if (e.code() != asio::error::eof) {
      reason = e.code().message();
    }
  }
  s->closed = true;
  s->Refill = nullptr;
  s->heartbeat.cancel();
  s->control->Close();
  s->CloseLinks();
  auto it = sessions_.find(s->replica_id);
  if (it != sessions_.end() && it->second == s) sessions_.erase(it);
  // A port this session was picking is free to pick again elsewhere.
  for (const auto& [name, st] : s->state) {
    if (st == TunnelState::kPending && picking_.count(name) && !assigned_ports_.count(name)) {
      picking_.erase(name);
      PortAssigned(name);
    }
  }
  if (s->fatal) fatal_ = true;
  // A session that stayed up a while resets the backoff; one that drops
  // straight away keeps growing it, so a flapping server is not hammered.
  if (std::chrono::steady_clock::now() - s->started > std::chrono::seconds(10)) attempt_ = 0;
  if (!stopping_ && !s->fatal) {
    log::Warn("disconnected", "disconnected from the server",
              {{"reason", reason}, {"replica_id", s->replica_id}});
  }
  Wake();
}

void Agent::HandleFrame(const std::shared_ptr<Session>& s, Frame& f, std::string* reason) {
  const std::string& server = cfg_.server();
  switch (f.msg_case()) {
    case Frame::kTunnelOpened: {
      const auto& o = f.tunnel_opened();
      auto it = std::find_if(cfg_.tunnels().begin(), cfg_.tunnels().end(),
                             [&](const auto& t) { return t.name() == o.name(); });
      if (it == cfg_.tunnels().end()) break;
      s->state[o.name()] = TunnelState::kOpen;
      s->retry_attempts.erase(o.name());
      s->SetTunnel(o.tunnel_id(), *it);
      bool first = !assigned_ports_.count(o.name());
      assigned_ports_[o.name()] = o.remote_port();
      picking_.erase(o.name());
      const std::string where =
          it->hostname().empty()
              ? absl::StrCat(it->kind() == "udp" ? "server UDP port " : "server port ",
                             o.remote_port())
              : absl::StrCat(it->kind(), "://", it->hostname(), " (server port ", o.remote_port(),
                             ")");
      log::Info("tunnel_open",
                absl::StrCat("tunnel \"", o.name(), "\" open: ", where, " -> ", it->local_addr()),
                {{"name", o.name()},
                 {"remote_port", o.remote_port()},
                 {"tunnel_id", o.tunnel_id()},
                 {"replica_id", s->replica_id},
                 {"local_addr", it->local_addr()}});
      if (first) PortAssigned(o.name());
      break;
    }
    case Frame::kTunnelRefused: {
      const auto& r = f.tunnel_refused();
      if (!s->state.count(r.name())) break;
      log::Error("tunnel_refused",
                 absl::StrCat("tunnel \"", r.name(), "\" refused: ", r.reason()),
                 {{"name", r.name()},
                  {"code", CodeName(r.code())},
                  {"reason", r.reason()},
                  {"retryable", Retryable(r.code())},
                  {"replica_id", s->replica_id}});
      picking_.erase(r.name());
      // A port remembered from an earlier session may be gone; ask again
      // (for the configured port) after a backoff. In cluster mode another
      // replica may hold it: only forget it when no session has it open.
      bool open_elsewhere = false;
      for (const auto& [id, other] : sessions_) {
        if (other != s && other->state[r.name()] == TunnelState::kOpen) open_elsewhere = true;
      }
      bool had_sticky = !open_elsewhere && assigned_ports_.erase(r.name()) > 0;
      if (Retryable(r.code()) || had_sticky || open_elsewhere) {
        s->state[r.name()] = TunnelState::kRetrying;
        net::Spawn(ex_, RetryTunnel(s, r.name(), std::chrono::milliseconds(r.retry_after_ms())),
                   "tunnel_retry");
      } else {
        s->state[r.name()] = TunnelState::kRefused;
      }
      if (!open_elsewhere) PortAssigned(r.name());  // someone else may pick now
      if (AllTunnelsPermanentlyRefused(*s)) {
        log::Info("no_tunnels", "exiting: no tunnel could be opened");
        s->fatal = true;
        s->closed = true;
      }
      break;
    }
    case Frame::kNeedDataConns:
      // The server asks once per waiting visitor, even while earlier
      // connections are on their way; only the target moves, and Refill
      // never lets spares exceed it, so a burst cannot leave thousands of
      // idle connections behind.
      s->spares.Demand(f.need_data_conns().count());
      Refill(s);
      break;
    case Frame::kPing: {
      Frame pong;
      pong.mutable_pong()->set_seq(f.ping().seq());
      s->writer->Send(pong);
      break;
    }
    case Frame::kPong:
      break;
    case Frame::kClusterUpdate:
      cluster_ = true;
      UpdateReplicas(f.cluster_update().replicas());
      break;
    case Frame::kTunnelClosed: {
      const auto& c = f.tunnel_closed();
      log::Warn("tunnel_closed",
                absl::StrCat("tunnel \"", c.name(), "\" closed by the server: ", c.reason()),
                {{"name", c.name()}, {"tunnel_id", c.tunnel_id()}, {"reason", c.reason()}});
      s->RemoveTunnel(c.tunnel_id());
      s->state[c.name()] = TunnelState::kRefused;
      assigned_ports_.erase(c.name());
      break;
    }
    case Frame::kGoodbye:
      *reason = absl::StrCat("server said goodbye: ", f.goodbye().reason());
      if (!f.goodbye().reconnect()) {
        // Kicked by an operator: coming straight back would defeat it.
        log::Error("kicked", absl::StrCat("disconnected by the server: ", f.goodbye().reason()),
                   {{"server", server}, {"reason", f.goodbye().reason()}});
        s->fatal = true;
        // Every replica's session goes (the kick applies cluster-wide).
        for (auto& [_, other] : sessions_) {
          other->closed = true;
          other->control->Close();
        }
      }
      s->closed = true;
      break;
    case Frame::kRefused:
      *reason = absl::StrCat("server refused: ", f.refused().reason());
      s->closed = true;
      break;
    default:
      throw net::ProtocolError(
          absl::StrCat("unexpected ", wire::MessageName(f), " on control connection"));
  }
}

void Agent::OpenTunnel(Session& s, const std::string& name) {
  auto it = std::find_if(cfg_.tunnels().begin(), cfg_.tunnels().end(),
                         [&](const auto& t) { return t.name() == name; });
  if (it == cfg_.tunnels().end()) return;
  uint32_t port = it->remote_port();
  if (auto sticky = assigned_ports_.find(name); sticky != assigned_ports_.end()) {
    port = sticky->second;
  } else if (port == 0 && cluster_ && it->hostname().empty()) {
    // One session picks a port for the whole cluster; the others ask for
    // that same port once it is known (PortAssigned).
    if (picking_.count(name)) {
      s.state[name] = TunnelState::kWaitingPort;
      return;
    }
    picking_.insert(name);
  }
  Frame f;
  auto* o = f.mutable_open_tunnel();
  o->set_name(name);
  o->set_local_addr(it->local_addr());
  if (!it->kind().empty()) {
    if (!s.tunnel_kinds) {
      // An old server would open a TCP tunnel on a random port instead.
      log::Error("tunnel_refused",
                 absl::StrCat("tunnel \"", name, "\" not requested: the server does not support ",
                              it->kind(), " tunnels (upgrade it)"),
                 {{"name", name}, {"kind", it->kind()}});
      s.state[name] = TunnelState::kRefused;
      return;
    }
    if (it->kind() == "udp") {
      o->set_kind(wire::v1::TUNNEL_KIND_UDP);
      o->set_remote_port(port);
    } else {
      FillRoutedRequest(*it, o);
    }
  } else {
    o->set_remote_port(port);
  }
  s.state[name] = TunnelState::kPending;
  s.writer->Send(f);
}

void Agent::PortAssigned(const std::string& name) {
  for (auto& [_, s] : sessions_) {
    auto st = s->state.find(name);
    if (s->closed || st == s->state.end() || st->second != TunnelState::kWaitingPort) continue;
    OpenTunnel(*s, name);
    // Without a known port only one session picks; the rest keep waiting.
    if (!assigned_ports_.count(name)) break;
  }
}

asio::awaitable<void> Agent::RetryTunnel(std::shared_ptr<Session> s, std::string name,
                                         std::chrono::milliseconds at_least) {
  // Slower than reconnects: the server answered, it just can't give us the
  // port yet. 1 s, 2 s, 4 s ... up to the reconnect cap, jittered.
  int attempt = s->retry_attempts[name]++;
  uint64_t cap = std::min<uint64_t>(cfg_.reconnect().max_backoff_ms(),
                                    uint64_t{1000} << std::min(attempt, 10));
  std::uniform_int_distribution<uint64_t> dist(cap / 2, cap);
  auto delay = std::max(at_least, std::chrono::milliseconds(dist(rng_)));
  asio::steady_timer t(ex_, delay);
  co_await t.async_wait(as_tuple(use_awaitable));
  if (s->closed || s->state[name] != TunnelState::kRetrying) co_return;
  OpenTunnel(*s, name);
}

bool Agent::AllTunnelsPermanentlyRefused(const Session& s) const {
  if (s.state.empty()) return false;
  for (const auto& [_, st] : s.state) {
    if (st != TunnelState::kRefused) return false;
  }
  return true;
}

asio::awaitable<void> Agent::Heartbeat(std::shared_ptr<Session> s) {
  uint64_t seq = 0;
  while (!s->closed) {
    s->heartbeat.expires_after(s->heartbeat_interval);
    auto [ec] = co_await s->heartbeat.async_wait(as_tuple(use_awaitable));
    if (ec || s->closed) co_return;
    if (std::chrono::steady_clock::now() - s->last_rx > s->idle_timeout) {
      s->end_reason = "heartbeat timeout: the server stopped answering";
      s->control->Close();
      co_return;
    }
    Frame ping;
    ping.mutable_ping()->set_seq(++seq);
    s->writer->Send(ping);
    // Quiet since the last heartbeat: the spare target decays, and spares
    // above it are retired by the server (which picks idle ones, so no
    // visitor races a closing link).
    uint32_t surplus = s->spares.Heartbeat();
    if (surplus > 0 && s->framed) {
      Frame retire;
      retire.mutable_retire_data_conns()->set_count(surplus);
      s->writer->Send(retire);
    }
    // Top up the pool in case earlier data connections failed to open.
    Refill(s);
  }
}

void Agent::Refill(const std::shared_ptr<Session>& s) {
  while (!s->closed && s->spares.TryOpenOne()) {
    int w = next_worker_++ % workers_.size();
    net::Spawn(workers_.executor(w),
               RunDataLink(s, &dialer_, std::chrono::milliseconds(cfg_.connect_timeout_ms())),
               "data_link");
  }
}

}  // namespace reitunnel::client
