#include "client/agent.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "asio/experimental/as_tuple.hpp"
#include "asio/use_awaitable.hpp"
#include "common/config/parse.h"
#include "common/log/log.h"
#include "common/net/dial.h"
#include "common/net/relay.h"
#include "common/net/spawn.h"
#include "common/version.h"
#include "common/wire/auth.h"
#include "common/wire/frame.h"

namespace reitunnel::client {

using asio::experimental::as_tuple;
using asio::use_awaitable;
using wire::v1::Frame;

namespace {

enum class TunnelState { kPending, kOpen, kRetrying, kRefused };

std::string CodeName(wire::v1::RefusalCode code) {
  std::string name = wire::v1::RefusalCode_Name(code);
  constexpr std::string_view kPrefix = "REFUSAL_CODE_";
  return name.rfind(kPrefix, 0) == 0 ? name.substr(kPrefix.size()) : name;
}

// Upper bound on pre-opened data connections per agent.
constexpr uint32_t kMaxSpares = 64;

bool Retryable(wire::v1::RefusalCode code) {
  return code == wire::v1::REFUSAL_CODE_PORT_IN_USE || code == wire::v1::REFUSAL_CODE_UNAVAILABLE;
}

}  // namespace

struct Agent::Session {
  explicit Session(asio::io_context& io) : heartbeat(io) {}

  std::shared_ptr<net::Conn> control;
  std::shared_ptr<net::FrameWriter> writer;
  std::string client_id;
  std::string session_key;
  uint32_t pool_size = 0;
  std::chrono::milliseconds heartbeat_interval{10000};
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::steady_clock::time_point last_rx;
  asio::steady_timer heartbeat;
  // Data connections being opened or idle in the server's pool.
  uint32_t spare = 0;
  // How many spares to keep. Starts at the server's pool size; each visitor
  // that found the pool empty raises it, so a busy tunnel's visitors stop
  // paying for a connection set-up; quiet heartbeats halve the excess.
  uint32_t spare_target = 0;
  bool demand_since_heartbeat = false;
  std::map<std::string, TunnelState> state;              // by name
  std::map<std::string, int> retry_attempts;             // by name
  std::map<std::string, config::v1::TunnelConfig> by_id;  // tunnel_id -> config
  bool closed = false;
  bool fatal = false;
  std::string end_reason;
};

Agent::Agent(asio::io_context& io, config::v1::AgentConfig cfg, net::SslCtxPtr tls)
    : io_(io), cfg_(std::move(cfg)), tls_(std::move(tls)), backoff_timer_(io),
      rng_(std::random_device{}()) {
  auto hp = config::ParseHostPort(cfg_.server());
  if (hp.ok()) {
    server_host_ = hp->host;
    server_port_ = hp->port;
  }
  server_name_ = cfg_.tls().server_name().empty() ? server_host_ : cfg_.tls().server_name();
}

Agent::~Agent() = default;

void Agent::Stop() {
  stopping_ = true;
  backoff_timer_.cancel();
  if (current_) {
    current_->closed = true;
    current_->control->Close();
  }
}

std::chrono::milliseconds Agent::Backoff(int attempt) {
  // Full jitter (AWS architecture blog): uniform in [initial/2, cap] where the
  // cap doubles per attempt, so a fleet of agents spreads out after a restart.
  uint64_t initial = cfg_.reconnect().initial_backoff_ms();
  uint64_t max = cfg_.reconnect().max_backoff_ms();
  uint64_t cap = std::min<uint64_t>(max, initial << std::min(attempt, 20));
  std::uniform_int_distribution<uint64_t> dist(initial / 2, std::max<uint64_t>(cap, initial / 2));
  return std::chrono::milliseconds(dist(rng_));
}

asio::awaitable<int> Agent::Run() {
  int attempt = 0;
  while (!stopping_) {
    auto started = std::chrono::steady_clock::now();
    Outcome outcome = co_await RunSession();
    if (outcome == Outcome::kFatal) co_return 1;
    if (stopping_ || outcome == Outcome::kStopped) break;
    // A session that stayed up a while resets the backoff; one that drops
    // straight away keeps growing it, so a flapping server is not hammered.
    if (std::chrono::steady_clock::now() - started > std::chrono::seconds(10)) attempt = 0;
    auto delay = Backoff(attempt++);
    log::Info("reconnecting", "reconnecting to the server",
              {{"delay_ms", static_cast<long long>(delay.count())}, {"attempt", attempt}});
    backoff_timer_.expires_after(delay);
    co_await backoff_timer_.async_wait(as_tuple(use_awaitable));
  }
  co_return 0;
}

asio::awaitable<std::shared_ptr<net::Conn>> Agent::ConnectServer() {
  auto timeout = std::chrono::milliseconds(cfg_.connect_timeout_ms());
  auto socket = co_await net::Dial(server_host_, server_port_, timeout);
  auto conn = std::make_shared<net::Conn>(std::move(socket));
  if (tls_) {
    asio::steady_timer deadline(io_, timeout);
    deadline.async_wait([conn](const asio::error_code& ec) {
      if (!ec) conn->Close();
    });
    co_await conn->TlsConnect(tls_.get(), server_name_);
  }
  co_return conn;
}

asio::awaitable<Agent::Outcome> Agent::RunSession() {
  auto s = std::make_shared<Session>(io_);
  const std::string server = cfg_.server();
  try {
    s->control = co_await ConnectServer();
    // The handshake must complete in time, like every other wait.
    asio::steady_timer deadline(io_, std::chrono::milliseconds(cfg_.connect_timeout_ms()));
    deadline.async_wait([c = s->control](const asio::error_code& ec) {
      if (!ec) c->Close();
    });
    Frame challenge = co_await net::ReadFrame(*s->control);
    if (!challenge.has_challenge()) throw net::ProtocolError("server did not send a challenge");
    Frame hello;
    auto* h = hello.mutable_hello();
    h->set_kind(wire::v1::CONNECTION_KIND_CONTROL);
    h->set_mac(wire::HandshakeMac(cfg_.token(), wire::v1::CONNECTION_KIND_CONTROL,
                                  challenge.challenge().nonce(), ""));
    h->set_agent_version(kVersion);
    for (const auto& [k, v] : cfg_.labels()) (*h->mutable_labels())[k] = v;
    co_await net::WriteFrame(*s->control, hello);
    Frame answer = co_await net::ReadFrame(*s->control);
    deadline.cancel();
    if (answer.has_refused()) {
      const auto& r = answer.refused();
      if (r.code() == wire::v1::REFUSAL_CODE_DENIED) {
        log::Error("agent_denied", absl::StrCat("server policy refused this agent: ", r.reason()),
                   {{"server", server}, {"reason", r.reason()}});
        co_return Outcome::kFatal;
      }
      if (r.code() == wire::v1::REFUSAL_CODE_AUTH_FAILED) {
        log::Error("auth_refused", absl::StrCat("server refused authentication: ", r.reason()),
                   {{"server", server}, {"reason", r.reason()}});
        co_return Outcome::kFatal;
      }
      log::Warn("connect_refused", absl::StrCat("server refused the connection: ", r.reason()),
                {{"server", server}, {"code", CodeName(r.code())}});
      co_return Outcome::kRetry;
    }
    if (!answer.has_welcome()) throw net::ProtocolError("server did not send welcome");
    const auto& w = answer.welcome();
    s->client_id = w.client_id();
    s->session_key = wire::DeriveSessionKey(cfg_.token(), w.session_nonce(), w.client_id());
    s->pool_size = std::clamp<uint32_t>(w.data_pool_size(), 1, kMaxSpares);
    s->spare_target = s->pool_size;
    if (w.heartbeat_interval_ms() > 0) {
      s->heartbeat_interval = std::chrono::milliseconds(w.heartbeat_interval_ms());
    }
    if (w.idle_timeout_ms() > 0) s->idle_timeout = std::chrono::milliseconds(w.idle_timeout_ms());
  } catch (const std::exception& e) {
    std::string why = e.what();
    if (auto* se = dynamic_cast<const std::system_error*>(&e)) why = se->code().message();
    log::Warn("connect_failed", "cannot connect to the server",
              {{"server", server}, {"error", why}});
    co_return stopping_ ? Outcome::kStopped : Outcome::kRetry;
  }

  s->writer = std::make_shared<net::FrameWriter>(io_.get_executor(), s->control);
  s->last_rx = std::chrono::steady_clock::now();
  current_ = s;
  log::Info("connected", "connected to the server",
            {{"server", server}, {"client_id", s->client_id}});
  for (const auto& t : cfg_.tunnels()) OpenTunnel(*s, t.name());
  Refill(s);
  net::Spawn(io_, Heartbeat(s), "heartbeat");

  std::string reason = "server closed the connection";
  try {
    while (!s->closed) {
      Frame f = co_await net::ReadFrame(*s->control);
      s->last_rx = std::chrono::steady_clock::now();
      switch (f.msg_case()) {
        case Frame::kTunnelOpened: {
          const auto& o = f.tunnel_opened();
          auto it = std::find_if(cfg_.tunnels().begin(), cfg_.tunnels().end(),
                                 [&](const auto& t) { return t.name() == o.name(); });
          if (it == cfg_.tunnels().end()) break;
          s->state[o.name()] = TunnelState::kOpen;
          s->by_id[o.tunnel_id()] = *it;
          assigned_ports_[o.name()] = o.remote_port();
          log::Info("tunnel_open",
                    absl::StrCat("tunnel \"", o.name(), "\" open: server port ", o.remote_port(),
                                 " -> ", it->local_addr()),
                    {{"name", o.name()},
                     {"remote_port", o.remote_port()},
                     {"tunnel_id", o.tunnel_id()},
                     {"local_addr", it->local_addr()}});
          break;
        }
        case Frame::kTunnelRefused: {
          const auto& r = f.tunnel_refused();
          if (!s->state.count(r.name())) break;
          log::Error("tunnel_refused",
                     absl::StrCat("tunnel \"", r.name(), "\" refused: ", r.reason()),
                     {{"name", r.name()}, {"code", CodeName(r.code())}, {"reason", r.reason()}});
          bool had_sticky = assigned_ports_.erase(r.name()) > 0;
          if (Retryable(r.code()) || had_sticky) {
            // A port remembered from an earlier session may be gone; ask
            // again (for the configured port) after a backoff.
            s->state[r.name()] = TunnelState::kRetrying;
            net::Spawn(io_, RetryTunnel(s, r.name()), "tunnel_retry");
          } else {
            s->state[r.name()] = TunnelState::kRefused;
          }
          if (AllTunnelsPermanentlyRefused(*s)) {
            log::Info("no_tunnels", "exiting: no tunnel could be opened");
            s->fatal = true;
            s->closed = true;
          }
          break;
        }
        case Frame::kNeedDataConns: {
          // The server asks once per waiting visitor, even while earlier
          // connections are on their way; only the target moves, and Refill
          // never lets spares (opening + idle) exceed it, so a burst cannot
          // leave thousands of idle connections behind.
          uint32_t n = std::min<uint32_t>(f.need_data_conns().count(), kMaxSpares);
          s->spare_target = std::min<uint32_t>(kMaxSpares, s->spare_target + n);
          s->demand_since_heartbeat = true;
          Refill(s);
          break;
        }
        case Frame::kPing: {
          Frame pong;
          pong.mutable_pong()->set_seq(f.ping().seq());
          s->writer->Send(pong);
          break;
        }
        case Frame::kPong:
          break;
        case Frame::kTunnelClosed: {
          const auto& c = f.tunnel_closed();
          log::Warn("tunnel_closed", absl::StrCat("tunnel \"", c.name(), "\" closed by the server: ",
                                                  c.reason()),
                    {{"name", c.name()}, {"tunnel_id", c.tunnel_id()}, {"reason", c.reason()}});
          s->by_id.erase(c.tunnel_id());
          s->state[c.name()] = TunnelState::kRefused;
          assigned_ports_.erase(c.name());
          break;
        }
        case Frame::kGoodbye:
          reason = absl::StrCat("server said goodbye: ", f.goodbye().reason());
          if (!f.goodbye().reconnect()) {
            // Kicked by an operator: coming straight back would defeat it.
            log::Error("kicked", absl::StrCat("disconnected by the server: ", f.goodbye().reason()),
                       {{"server", server}, {"reason", f.goodbye().reason()}});
            s->fatal = true;
          }
          s->closed = true;
          break;
        case Frame::kRefused:
          reason = absl::StrCat("server refused: ", f.refused().reason());
          s->closed = true;
          break;
        default:
          throw net::ProtocolError(
              absl::StrCat("unexpected ", wire::MessageName(f), " on control connection"));
      }
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
  bool fatal = s->fatal;
  s->closed = true;
  s->heartbeat.cancel();
  s->control->Close();
  current_ = nullptr;
  if (stopping_) co_return Outcome::kStopped;
  if (fatal) co_return Outcome::kFatal;
  log::Warn("disconnected", "disconnected from the server", {{"reason", reason}});
  co_return Outcome::kRetry;
}

void Agent::OpenTunnel(Session& s, const std::string& name) {
  auto it = std::find_if(cfg_.tunnels().begin(), cfg_.tunnels().end(),
                         [&](const auto& t) { return t.name() == name; });
  if (it == cfg_.tunnels().end()) return;
  Frame f;
  auto* o = f.mutable_open_tunnel();
  o->set_name(name);
  auto sticky = assigned_ports_.find(name);
  o->set_remote_port(sticky != assigned_ports_.end() ? sticky->second : it->remote_port());
  o->set_local_addr(it->local_addr());
  s.state[name] = TunnelState::kPending;
  s.writer->Send(f);
}

asio::awaitable<void> Agent::RetryTunnel(std::shared_ptr<Session> s, std::string name) {
  // Slower than reconnects: the server answered, it just can't give us the
  // port yet. 1 s, 2 s, 4 s ... up to the reconnect cap, jittered.
  int attempt = s->retry_attempts[name]++;
  uint64_t cap = std::min<uint64_t>(cfg_.reconnect().max_backoff_ms(),
                                    uint64_t{1000} << std::min(attempt, 10));
  std::uniform_int_distribution<uint64_t> dist(cap / 2, cap);
  asio::steady_timer t(io_, std::chrono::milliseconds(dist(rng_)));
  co_await t.async_wait(as_tuple(use_awaitable));
  if (s->closed || s->state[name] != TunnelState::kRetrying) co_return;
  OpenTunnel(*s, name);
}

bool Agent::AllTunnelsPermanentlyRefused(const Session& s) const {
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
    if (!s->demand_since_heartbeat && s->spare_target > s->pool_size) {
      s->spare_target = std::max(s->pool_size, s->spare_target / 2);
    }
    s->demand_since_heartbeat = false;
    // Top up the pool in case earlier data connections failed to open.
    Refill(s);
  }
}

void Agent::Refill(const std::shared_ptr<Session>& s) {
  while (!s->closed && s->spare < s->spare_target) {
    ++s->spare;
    net::Spawn(io_, DataConnection(s), "data_connection");
  }
}

asio::awaitable<void> Agent::DataConnection(std::shared_ptr<Session> s) {
  std::shared_ptr<net::Conn> data;
  bool counted = true;
  auto release = [&] {
    if (counted) {
      counted = false;
      --s->spare;
    }
  };
  try {
    data = co_await ConnectServer();
    asio::steady_timer deadline(io_, std::chrono::milliseconds(cfg_.connect_timeout_ms()));
    deadline.async_wait([data](const asio::error_code& ec) {
      if (!ec) data->Close();
    });
    Frame challenge = co_await net::ReadFrame(*data);
    if (!challenge.has_challenge()) throw net::ProtocolError("expected challenge");
    Frame hello;
    auto* h = hello.mutable_hello();
    h->set_kind(wire::v1::CONNECTION_KIND_DATA);
    h->set_client_id(s->client_id);
    h->set_mac(wire::HandshakeMac(s->session_key, wire::v1::CONNECTION_KIND_DATA,
                                  challenge.challenge().nonce(), s->client_id));
    co_await net::WriteFrame(*data, hello);
    Frame ready = co_await net::ReadFrame(*data);
    deadline.cancel();
    if (!ready.has_data_ready()) {
      throw net::ProtocolError(ready.has_refused() ? ready.refused().reason()
                                                   : "expected data_ready");
    }
    // Idle in the server's pool until a visitor arrives.
    Frame start = co_await net::ReadFrame(*data);
    release();
    Refill(s);
    if (!start.has_start_relay()) throw net::ProtocolError("expected start_relay");
    auto it = s->by_id.find(start.start_relay().tunnel_id());
    if (it == s->by_id.end()) throw net::ProtocolError("start_relay for an unknown tunnel");
    const auto& tunnel = it->second;
    auto target = config::ParseHostPort(tunnel.local_addr());
    if (!target.ok()) throw net::ProtocolError("bad local address");
    std::shared_ptr<net::Conn> local;
    try {
      local = std::make_shared<net::Conn>(co_await net::Dial(
          target->host, target->port, std::chrono::milliseconds(cfg_.connect_timeout_ms())));
    } catch (const std::system_error& e) {
      log::Warn("local_connect_failed", "cannot reach the local service",
                {{"name", tunnel.name()},
                 {"local_addr", tunnel.local_addr()},
                 {"error", e.code().message()}});
      data->Close();
      co_return;
    }
    net::RelayCounters counters;
    co_await net::Relay(*data, *local, &counters);
  } catch (const std::exception& e) {
    release();
    if (data) data->Close();
    log::Debug("data_connection_ended", "data connection ended", {{"error", e.what()}});
  }
}

}  // namespace reitunnel::client
