#include "server/server.h"

#include "absl/strings/str_cat.h"
#include "asio/experimental/as_tuple.hpp"
#include "asio/use_awaitable.hpp"
#include "common/config/parse.h"
#include "common/log/log.h"
#include "common/net/frame_io.h"
#include "common/net/spawn.h"
#include "common/version.h"
#include "common/wire/auth.h"
#include "common/wire/frame.h"
#include "server/agent_session.h"
#include "server/tunnel.h"
#include "server/hooks/hook_dispatcher.h"

namespace reitunnel::server {

using asio::ip::tcp;

namespace {

// Bounded so a flood of half-open handshakes cannot exhaust memory or fds
// that established agents need.
constexpr size_t kMaxHandshakesInFlight = 1024;

}  // namespace

Server::Server(asio::io_context& io, config::v1::ServerConfig cfg, net::SslCtxPtr tls,
               PortAllocator ports, std::unique_ptr<HookDispatcher> hooks)
    : io_(io),
      cfg_(std::move(cfg)),
      tls_(std::move(tls)),
      ports_(ports),
      hooks_(std::move(hooks)),
      flush_timer_(io),
      acceptor_(io) {}

Server::~Server() = default;

asio::awaitable<absl::Status> Server::CheckServerStart() {
  if (!hooks_ || !hooks_->Subscribed(HookEvent::kServerStart)) co_return absl::OkStatus();
  HookDecision d = co_await hooks_->Decide(HookEvent::kServerStart, hook::v1::ServerStartRequest());
  if (!d.allowed) {
    co_return absl::PermissionDeniedError(absl::StrCat("start vetoed by hook: ", d.reason));
  }
  co_return absl::OkStatus();
}

void Server::ReportError(const std::string& component, const std::string& message,
                         const std::string& remote_addr) {
  if (!hooks_) return;
  hook::v1::ErrorEvent err;
  err.set_component(component);
  err.set_message(message);
  (*err.mutable_metadata())["remote_addr"] = remote_addr;
  hooks_->Notify(HookEvent::kError, std::move(err));
}

asio::awaitable<void> Server::FlushLoop() {
  // Counters live in each relay and are only read here, on the same thread:
  // the hot path pays nothing but its own increments.
  for (;;) {
    flush_timer_.expires_after(hooks_->flush_interval());
    auto [ec] = co_await flush_timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    std::vector<hook::v1::TunnelTraffic> traffic;
    for (auto& [_, s] : sessions_) s->CollectTraffic(&traffic);
    hooks_->PublishTraffic(std::move(traffic));
  }
}

absl::Status Server::Start() {
  auto hp = config::ParseHostPort(cfg_.listen());
  if (!hp.ok()) return hp.status();
  asio::error_code ec;
  auto addr = asio::ip::make_address(hp->host, ec);
  if (ec) {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
    if (ec || results.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot resolve listen address ", cfg_.listen()));
    }
    addr = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(addr, hp->port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", cfg_.listen(), ": ", ec.message()));
  }
  auto local = acceptor_.local_endpoint();
  if (hooks_) hooks_->set_listen_addr(absl::StrCat(local.address().to_string(), ":", local.port()));
  log::Info("agent_listener_ready", "listening for agents",
            {{"addr", absl::StrCat(local.address().to_string(), ":", local.port())},
             {"tls", tls_ != nullptr},
             {"public_ports", ports_.RangeString()}});
  net::Spawn(io_, AcceptLoop(), "agent_accept");
  if (hooks_ && hooks_->Subscribed(HookEvent::kData)) net::Spawn(io_, FlushLoop(), "data_flush");
  return absl::OkStatus();
}

tcp::endpoint Server::agent_endpoint() const { return acceptor_.local_endpoint(); }

void Server::AddClosedTotals(const TunnelTotals& t) {
  closed_bytes_in_ += t.bytes_in;
  closed_bytes_out_ += t.bytes_out;
}

std::string Server::listen_addr() const {
  asio::error_code ec;
  auto ep = acceptor_.local_endpoint(ec);
  if (ec) return cfg_.listen();
  return absl::StrCat(ep.address().to_string(), ":", ep.port());
}

void Server::RemoveSession(const std::string& client_id) { sessions_.erase(client_id); }

asio::awaitable<void> Server::AcceptLoop() {
  for (;;) {
    auto [ec, socket] =
        co_await acceptor_.async_accept(asio::experimental::as_tuple(asio::use_awaitable));
    if (!acceptor_.is_open()) co_return;
    if (ec) {
      log::Warn("agent_accept_failed", "accepting a connection failed", {{"error", ec.message()}});
      asio::steady_timer backoff(io_, std::chrono::milliseconds(50));
      co_await backoff.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      continue;
    }
    if (handshakes_in_flight_ >= kMaxHandshakesInFlight) {
      log::Warn("connection_rejected", "too many handshakes in progress",
                {{"remote_addr", net::PeerString(socket)}, {"reason", "handshake limit"}});
      continue;
    }
    net::Spawn(io_, HandleConnection(std::move(socket)), "agent_connection");
  }
}

asio::awaitable<void> Server::HandleConnection(tcp::socket socket) {
  auto conn = std::make_shared<net::Conn>(std::move(socket));
  const std::string remote = conn->peer();
  ++handshakes_in_flight_;
  struct Release {
    size_t& n;
    ~Release() { --n; }
  } release{handshakes_in_flight_};

  // Every wait has a timer: a peer that stalls anywhere in the handshake is
  // cut off when it fires.
  bool timed_out = false;
  asio::steady_timer deadline(io_, std::chrono::milliseconds(cfg_.timeouts().handshake_ms()));
  deadline.async_wait([&timed_out, conn](const asio::error_code& ec) {
    if (ec) return;
    timed_out = true;
    conn->Close();
  });

  auto reject = [&](const std::string& reason) {
    log::Warn("connection_rejected", "connection rejected",
              {{"remote_addr", remote}, {"reason", reason}});
    ReportError("agent_listener", absl::StrCat("connection rejected: ", reason), remote);
  };
  auto refuse = [&](wire::v1::RefusalCode code, const std::string& reason)
      -> asio::awaitable<void> {
    reject(reason);
    wire::v1::Frame f;
    f.mutable_refused()->set_code(code);
    f.mutable_refused()->set_reason(reason);
    try {
      co_await net::WriteFrame(*conn, f);
    } catch (...) {
    }
    conn->Close();
  };

  try {
    if (tls_) co_await conn->TlsAccept(tls_.get());
    std::string nonce = wire::RandomBytes(wire::kNonceSize);
    wire::v1::Frame challenge;
    challenge.mutable_challenge()->set_nonce(nonce);
    challenge.mutable_challenge()->set_server_version(kVersion);
    co_await net::WriteFrame(*conn, challenge);

    wire::v1::Frame frame = co_await net::ReadFrame(*conn);
    if (frame.msg_case() != wire::v1::Frame::kHello) {
      co_await refuse(wire::v1::REFUSAL_CODE_BAD_REQUEST,
                      absl::StrCat("expected hello, got ", wire::MessageName(frame)));
      co_return;
    }
    const wire::v1::Hello& hello = frame.hello();

    if (hello.kind() == wire::v1::CONNECTION_KIND_DATA) {
      auto it = sessions_.find(hello.client_id());
      std::string expected;
      if (it != sessions_.end()) {
        expected = wire::HandshakeMac(it->second->session_key(), wire::v1::CONNECTION_KIND_DATA,
                                      nonce, hello.client_id());
      }
      if (expected.empty()) {
        // Usually an agent's pool connection racing its own session's end;
        // not worth a warning, but still refused.
        log::Info("connection_rejected", "connection rejected",
                  {{"remote_addr", remote},
                   {"reason", "data connection for an unknown or ended session"}});
        wire::v1::Frame f;
        f.mutable_refused()->set_code(wire::v1::REFUSAL_CODE_AUTH_FAILED);
        f.mutable_refused()->set_reason("unknown or ended session");
        try {
          co_await net::WriteFrame(*conn, f);
        } catch (...) {
        }
        conn->Close();
        co_return;
      }
      if (!wire::ConstantTimeEquals(hello.mac(), expected)) {
        co_await refuse(wire::v1::REFUSAL_CODE_AUTH_FAILED,
                        "data connection authentication failed");
        co_return;
      }
      wire::v1::Frame ready;
      ready.mutable_data_ready();
      co_await net::WriteFrame(*conn, ready);
      deadline.cancel();
      if (timed_out) co_return;
      // The session may have ended while we wrote.
      it = sessions_.find(hello.client_id());
      if (it == sessions_.end()) co_return;
      it->second->AddDataConn(conn);
      co_return;
    }

    if (hello.kind() != wire::v1::CONNECTION_KIND_CONTROL) {
      co_await refuse(wire::v1::REFUSAL_CODE_BAD_REQUEST, "unknown connection kind");
      co_return;
    }
    std::string expected =
        wire::HandshakeMac(cfg_.token(), wire::v1::CONNECTION_KIND_CONTROL, nonce, "");
    if (!wire::ConstantTimeEquals(hello.mac(), expected)) {
      co_await refuse(wire::v1::REFUSAL_CODE_AUTH_FAILED,
                      "authentication failed: the agent's token does not match the server's");
      co_return;
    }
    if (draining_) {
      co_await refuse(wire::v1::REFUSAL_CODE_UNAVAILABLE, "server is shutting down");
      co_return;
    }
    if (sessions_.size() >= cfg_.limits().max_agents()) {
      co_await refuse(wire::v1::REFUSAL_CODE_LIMIT, "server has reached its agent limit");
      co_return;
    }
    AgentInfo info;
    info.client_id = wire::RandomId(8);
    info.remote_addr = remote;
    info.agent_version = hello.agent_version().substr(0, 64);
    size_t label_bytes = 0;
    for (const auto& [k, v] : hello.labels()) {
      label_bytes += k.size() + v.size();
      if (label_bytes > 4096) break;
      info.labels[k] = v;
    }

    // Policy hooks see the authenticated agent before it may open tunnels.
    if (hooks_ && hooks_->Subscribed(HookEvent::kClientConnect)) {
      hook::v1::ClientConnectRequest req;
      req.set_client_id(info.client_id);
      auto& md = *req.mutable_metadata();
      md["remote_addr"] = info.remote_addr;
      md["agent_version"] = info.agent_version;
      md["client_id"] = info.client_id;
      for (const auto& [k, v] : info.labels) md["label." + k] = v;
      HookDecision d = co_await hooks_->Decide(HookEvent::kClientConnect, std::move(req));
      if (timed_out) co_return;
      if (!d.allowed) {
        log::Warn("agent_denied", "agent denied by policy",
                  {{"remote_addr", remote}, {"client_id", info.client_id}, {"reason", d.reason}});
        wire::v1::Frame f;
        f.mutable_refused()->set_code(wire::v1::REFUSAL_CODE_DENIED);
        f.mutable_refused()->set_reason(d.reason);
        co_await net::WriteFrame(*conn, f);
        conn->Close();
        co_return;
      }
    }
    std::string session_nonce = wire::RandomBytes(wire::kNonceSize);
    std::string session_key = wire::DeriveSessionKey(cfg_.token(), session_nonce, info.client_id);

    wire::v1::Frame welcome;
    auto* w = welcome.mutable_welcome();
    w->set_client_id(info.client_id);
    w->set_session_nonce(session_nonce);
    w->set_data_pool_size(cfg_.limits().data_pool_size());
    w->set_heartbeat_interval_ms(cfg_.timeouts().heartbeat_interval_ms());
    w->set_idle_timeout_ms(cfg_.timeouts().idle_ms());
    // From here the session owns the agent: even if the welcome cannot be
    // written, Run() sees the dead socket and reports the disconnect, so
    // hooks get OnClientDisconnect for every allowed OnClientConnect.
    deadline.cancel();
    auto session = std::make_shared<AgentSession>(*this, info, session_key, conn);
    sessions_[info.client_id] = session;
    try {
      co_await net::WriteFrame(*conn, welcome);
    } catch (const std::system_error&) {
      conn->Close();
    }
    co_await session->Run();
  } catch (const net::ProtocolError& e) {
    // Best effort: tell the peer why, then close.
    reject(e.what());
    conn->Close();
  } catch (const std::system_error& e) {
    if (timed_out) {
      reject("handshake timeout");
    } else {
      reject(absl::StrCat("connection failed during handshake: ", e.what()));
    }
    conn->Close();
  }
}

size_t Server::ActiveVisitors() const {
  size_t n = 0;
  for (auto& [_, s] : sessions_) n += s->active_visitors();
  return n;
}

void Server::Shutdown(std::function<void()> done) {
  if (draining_) return;
  draining_ = true;
  log::Info("shutdown_started", "shutting down: no new agents or visitors",
            {{"agents", sessions_.size()}, {"drain_ms", cfg_.timeouts().drain_ms()}});
  asio::error_code ec;
  acceptor_.close(ec);
  for (auto& [_, s] : sessions_) s->StopAccepting();
  net::Spawn(io_, Drain(std::move(done)), "drain");
}

asio::awaitable<void> Server::Drain(std::function<void()> done) {
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.timeouts().drain_ms());
  asio::steady_timer tick(io_);
  while (ActiveVisitors() > 0 && std::chrono::steady_clock::now() < deadline) {
    tick.expires_after(std::chrono::milliseconds(50));
    co_await tick.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  size_t cut = ActiveVisitors();
  // Copy: Close() leads to RemoveSession() once each session's Run() unwinds.
  auto sessions = sessions_;
  for (auto& [_, s] : sessions) s->Close("server shutting down", /*reconnect=*/true);
  // Let sessions finish their teardown (logs, OnTunnelClose later) before
  // the caller stops the loop.
  while (!sessions_.empty()) {
    tick.expires_after(std::chrono::milliseconds(10));
    co_await tick.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  flush_timer_.cancel();
  if (hooks_) {
    hook::v1::ServerStopRequest stop;
    stop.set_reason("signal");
    hooks_->Notify(HookEvent::kServerStop, std::move(stop));
    co_await hooks_->Shutdown(std::chrono::seconds(3));
  }
  log::Info("shutdown_complete", "shutdown complete", {{"visitors_cut", cut}});
  done();
}

}  // namespace reitunnel::server
