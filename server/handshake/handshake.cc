#include "server/handshake/handshake.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "asio/experimental/as_tuple.hpp"
#include "asio/steady_timer.hpp"
#include "asio/use_awaitable.hpp"
#include "common/log/log.h"
#include "common/net/buffered_stream.h"
#include "common/net/conn.h"
#include "common/net/deadline.h"
#include "common/net/frame_io.h"
#include "common/runtime/worker_pool.h"
#include "common/transport/link/link_acceptor.h"
#include "common/transport/tcp/tcp_transport.h"
#include "common/version.h"
#include "common/wire/auth.h"
#include "common/wire/frame.h"
#include "server/auth/auth_throttle.h"
#include "server/auth/authenticator.h"
#include "server/auth/identity_metadata.h"
#include "server/auth/tls_context.h"
#include "server/cluster_mode/cluster_node.h"
#include "server/hooks/hook_dispatcher.h"
#include "server/listener/reject_log.h"
#include "server/registry/bans.h"
#include "server/registry/session_registry.h"
#include "server/session/agent_session.h"
#include "server/session/session_shard.h"

namespace reitunnel::server {
namespace {

using wire::v1::Frame;
using wire::v1::RefusalCode;

// A failed proof is answered late: a serial brute force gets a few guesses
// per second per connection, and the per-source block ends the rest.
constexpr std::chrono::milliseconds kAuthFailureDelay{250};
// WebSocket links ping when idle so proxies with idle timeouts (nginx:
// proxy_read_timeout 60 s) keep idle pool connections open.
constexpr std::chrono::milliseconds kWsPingInterval{25000};

// An agent id from the wire, fit for a refusal and the log.
std::string PrintableId(const std::string& id) {
  std::string out;
  for (char c : id.substr(0, 128)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-' || c == '@';
    out.push_back(ok ? c : '?');
  }
  return out;
}

bool ValidInstanceId(const std::string& id) {
  if (id.size() != 16) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

uint32_t ToMillis(std::chrono::milliseconds d) {
  return static_cast<uint32_t>(std::min<int64_t>(d.count(), 0x7fffffff));
}

uint32_t MillisUntil(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                t - std::chrono::system_clock::now());
  return ms.count() > 0 ? ToMillis(ms) : 0;
}

class Handshake {
 public:
  Handshake(const HandshakeEnv& env, int worker, std::shared_ptr<net::Conn> conn)
      : env_(env),
        worker_(worker),
        ex_(env.session.workers->executor(worker)),
        conn_(conn),
        peer_(conn->peer()),
        ip_(IpOf(peer_)) {}

  asio::awaitable<void> Run(Admission::Ticket ticket) {
    ticket_ = std::move(ticket);
    auto conn = conn_;
    // Closing the socket fails whatever layer is waiting on it.
    net::Deadline deadline(ex_, std::chrono::milliseconds(env_.cfg->timeouts().handshake_ms()),
                           [conn] { conn->Close(); });
    deadline_ = &deadline;
    bool transport_up = false;
    try {
      co_await BringUpTransport();
      transport_up = true;
      nonce_ = wire::RandomBytes(wire::kNonceSize);
      Frame challenge;
      challenge.mutable_challenge()->set_nonce(nonce_);
      challenge.mutable_challenge()->set_server_version(kVersion);
      co_await net::WriteFrame(*link_, challenge);
      Frame frame = co_await net::ReadFrame(*link_);
      if (frame.msg_case() != Frame::kHello) {
        co_await Refuse(wire::v1::REFUSAL_CODE_BAD_REQUEST,
                        absl::StrCat("expected hello, got ", wire::MessageName(frame)));
        co_return;
      }
      if (frame.hello().kind() == wire::v1::CONNECTION_KIND_DATA) {
        co_await AcceptData(frame.hello());
      } else if (frame.hello().kind() == wire::v1::CONNECTION_KIND_CONTROL) {
        co_await AcceptControl(std::move(*frame.mutable_hello()));
      } else {
        co_await Refuse(wire::v1::REFUSAL_CODE_BAD_REQUEST, "unknown connection kind");
      }
    } catch (const net::ProtocolError& e) {
      Reject(e.what());
      CloseAll();
    } catch (const std::system_error& e) {
      if (deadline.expired()) {
        Reject("handshake timeout");
      } else if (!transport_up) {
        // TLS and WebSocket errors carry their own detail (no secrets).
        Reject(absl::StrCat(env_.websocket ? "websocket" : (env_.tls ? "TLS" : "transport"),
                            " setup failed: ", e.what()));
      } else {
        Reject(absl::StrCat("connection failed during handshake: ", e.code().message()));
      }
      CloseAll();
    }
  }

 private:
  // TLS when configured, then the WebSocket upgrade on a --ws-listen port.
  asio::awaitable<void> BringUpTransport() {
    transport::LinkAcceptSpec spec;
    std::shared_ptr<SSL_CTX> ctx;  // held until the TLS session has its own reference
    if (env_.tls) {
      ctx = env_.tls->Get();
      spec.tls = ctx.get();
    }
    spec.websocket = env_.websocket;
    spec.ws.path = env_.ws_path;
    spec.ws.timeout = std::chrono::milliseconds(env_.cfg->timeouts().handshake_ms());
    spec.ws.stream.ping_interval = kWsPingInterval;
    transport::AcceptedLink accepted = co_await transport::AcceptLink(conn_, spec);
    peer_certificate_ = std::move(accepted.peer_certificate);
    link_ = std::make_shared<net::BufferedStream>(std::move(accepted.stream));
  }

  void CloseAll() {
    if (link_) link_->Close();
    conn_->Close();
  }

  // Logged (aggregated) and, when logged, reported to hooks.
  void Reject(const std::string& reason, bool warn = true) {
    if (!env_.rejects || !env_.rejects->Record(ip_, peer_, reason, warn)) return;
    if (auto* hooks = env_.session.hooks; hooks && warn) {
      hook::v1::ErrorEvent err;
      err.set_component("agent_listener");
      err.set_message(absl::StrCat("connection rejected: ", reason));
      (*err.mutable_metadata())["remote_addr"] = peer_;
      hooks->Notify(HookEvent::kError, std::move(err));
    }
  }

  asio::awaitable<void> Refuse(RefusalCode code, const std::string& reason,
                               uint32_t retry_after_ms = 0, bool warn = true) {
    Reject(reason, warn);
    Frame f;
    f.mutable_refused()->set_code(code);
    f.mutable_refused()->set_reason(reason);
    if (retry_after_ms) f.mutable_refused()->set_retry_after_ms(retry_after_ms);
    try {
      co_await net::WriteFrame(*link_, f);
    } catch (...) {
    }
    link_->Close();
  }

  asio::awaitable<void> Delay(std::chrono::milliseconds d) {
    asio::steady_timer t(ex_, d);
    co_await t.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }

  asio::awaitable<void> AcceptData(const wire::v1::Hello& hello) {
    auto entry = env_.session.registry->Find(hello.client_id());
    if (!entry) {
      // Usually an agent's pool connection racing its own session's end:
      // not worth a warning, but still refused.
      co_await Refuse(wire::v1::REFUSAL_CODE_AUTH_FAILED, "unknown or ended session", 0,
                      /*warn=*/false);
      co_return;
    }
    std::string expected = wire::HandshakeMac(entry->session_key, wire::v1::CONNECTION_KIND_DATA,
                                              nonce_, hello.client_id());
    if (!wire::ConstantTimeEquals(hello.mac(), expected)) {
      // Not counted against the address: session keys are 256-bit and
      // random, nothing to brute-force, while a reconnecting agent's stale
      // links would otherwise get its own address blocked.
      co_await Refuse(wire::v1::REFUSAL_CODE_AUTH_FAILED, "data connection authentication failed");
      co_return;
    }
    Frame ready;
    ready.mutable_data_ready();
    co_await net::WriteFrame(*link_, ready);
    if (deadline_->expired()) co_return;
    deadline_->Cancel();
    ticket_.Release();
    // This worker's shard; it balances the link to a sibling whose visitors
    // wait if this one has none.
    entry->shards[worker_]->AddLink(link_);
  }

  asio::awaitable<void> AcceptControl(wire::v1::Hello hello) {
    const auto& cfg = *env_.cfg;
    if (auto blocked = env_.throttle->BlockedFor(ip_); blocked.count() > 0) {
      env_.throttle->CountRefused();
      // Reasons are named locals, never temporaries in the co_await: GCC 12
      // destroys some temporaries of a co_await expression twice.
      const std::string reason =
          absl::StrCat("too many failed authentications from this address; retry in ",
                       (blocked.count() + 999) / 1000, " s");
      co_await Refuse(wire::v1::REFUSAL_CODE_LIMIT, reason, ToMillis(blocked));
      co_return;
    }
    Authenticator::Result auth = env_.auth->VerifyControl(hello, nonce_);
    if (!auth.ok) {
      env_.throttle->RecordFailure(ip_);
      co_await Delay(kAuthFailureDelay);
      const std::string reason =
          hello.agent_id().empty()
              ? std::string("authentication failed: the agent's token does not match the server's")
              : absl::StrCat("authentication failed: agent id \"", PrintableId(hello.agent_id()),
                             "\" with this token is not accepted");
      co_await Refuse(wire::v1::REFUSAL_CODE_AUTH_FAILED, reason);
      co_return;
    }
    env_.throttle->RecordSuccess(ip_);
    if (auto* cluster = env_.session.cluster) {
      for (const auto& r : hello.connected_replicas()) {
        if (r != cluster->replica_id()) continue;
        co_await Refuse(wire::v1::REFUSAL_CODE_ALREADY_CONNECTED,
                        "already connected to this replica", 0, /*warn=*/false);
        co_return;
      }
    }
    if (env_.session.draining->load()) {
      co_await Refuse(wire::v1::REFUSAL_CODE_UNAVAILABLE, "server is shutting down");
      co_return;
    }
    AgentInfo info;
    // The agent's instance id, when it gives a well-formed one, is its
    // client id: the same on every replica and across reconnects.
    info.client_id = ValidInstanceId(hello.instance_id()) ? hello.instance_id()
                                                          : wire::RandomId(8);
    info.remote_addr = peer_;
    info.remote_ip = ip_;
    info.agent_version = hello.agent_version().substr(0, 64);
    info.instance_id = hello.instance_id().substr(0, 64);
    info.agent_id = auth.agent_id;
    info.agent_id_verified = auth.verified;
    info.credential = auth.credential;
    for (const auto& r : auth.allowed_ports) info.allowed_ports.push_back({r.low, r.high});
    info.allowed_hostnames = auth.allowed_hostnames;
    info.transport = link_->kind();
    if (peer_certificate_) {
      info.tls_subject = peer_certificate_->subject;
      info.tls_san = peer_certificate_->JoinedSans();
      info.tls_fingerprint_sha256 = peer_certificate_->fingerprint_sha256;
    }
    size_t label_bytes = 0;
    for (const auto& [k, v] : hello.labels()) {
      label_bytes += k.size() + v.size();
      if (label_bytes > 4096) break;
      info.labels[k] = v;
    }
    // The server's word on a verified agent beats the agent's own.
    for (const auto& [k, v] : auth.labels) {
      info.labels[k] = v;
      info.verified_label_keys.push_back(k);
    }
    for (const auto& f : hello.features()) {
      if (std::find(env_.features.begin(), env_.features.end(), f) != env_.features.end()) {
        info.features.push_back(f);
      }
    }
    if (auto ban = env_.session.bans->ForAgent(AgentIdentity(info))) {
      const std::string reason = absl::StrCat("banned by an operator: ", ban->reason);
      co_await Refuse(wire::v1::REFUSAL_CODE_BANNED, reason, MillisUntil(ban->until));
      co_return;
    }
    const size_t max_agents = cfg.limits().max_agents();
    if (env_.session.registry->size() >= max_agents &&
        !env_.session.registry->Find(info.client_id)) {
      co_await Refuse(wire::v1::REFUSAL_CODE_LIMIT, "server has reached its agent limit");
      co_return;
    }
    auto* hooks = env_.session.hooks;
    if (hooks && hooks->Subscribed(HookEvent::kClientConnect)) {
      hook::v1::ClientConnectRequest req;
      req.set_client_id(info.client_id);
      auto& md = *req.mutable_metadata();
      md["remote_addr"] = info.remote_addr;
      md["agent_version"] = info.agent_version;
      md["client_id"] = info.client_id;
      md["instance_id"] = info.instance_id;
      AddIdentityMetadata(info, md);
      for (const auto& [k, v] : info.labels) md["label." + k] = v;
      HookDecision d = co_await hooks->Decide(HookEvent::kClientConnect, std::move(req));
      if (deadline_->expired()) co_return;
      if (!d.allowed()) {
        log::Warn("agent_denied", "agent denied by policy",
                  {{"remote_addr", peer_},
                   {"client_id", info.client_id},
                   {"reason", d.reason},
                   {"retryable", d.kind == HookDecision::Kind::kUnavailable}});
        Frame f;
        f.mutable_refused()->set_code(d.kind == HookDecision::Kind::kDeny
                                          ? wire::v1::REFUSAL_CODE_DENIED
                                          : wire::v1::REFUSAL_CODE_UNAVAILABLE);
        f.mutable_refused()->set_reason(d.reason);
        try {
          co_await net::WriteFrame(*link_, f);
        } catch (...) {
        }
        link_->Close();
        co_return;
      }
    }
    std::string session_nonce = wire::RandomBytes(wire::kNonceSize);
    std::string session_key = wire::DeriveSessionKey(auth.key, session_nonce, info.client_id);
    Frame welcome;
    auto* w = welcome.mutable_welcome();
    w->set_client_id(info.client_id);
    w->set_session_nonce(session_nonce);
    w->set_data_pool_size(cfg.limits().data_pool_size());
    w->set_heartbeat_interval_ms(cfg.timeouts().heartbeat_interval_ms());
    w->set_idle_timeout_ms(cfg.timeouts().idle_ms());
    for (const auto& f : info.features) w->add_features(f);
    if (auto* cluster = env_.session.cluster) {
      w->set_replica_id(cluster->replica_id());
      for (const auto& r : cluster->Replicas()) *w->add_replicas() = r;
    }
    auto session = AgentSession::Create(env_.session, std::move(info), std::move(session_key),
                                        worker_, link_, max_agents);
    if (!session.ok()) {
      const std::string reason(session.status().message());
      co_await Refuse(wire::v1::REFUSAL_CODE_LIMIT, reason);
      co_return;
    }
    // From here the session owns the agent: even if the welcome cannot be
    // written, Run() sees the dead socket and reports the disconnect, so
    // hooks get OnClientDisconnect for every allowed OnClientConnect.
    deadline_->Cancel();
    ticket_.Release();
    co_await (*session)->Run(std::move(welcome));
  }

  const HandshakeEnv& env_;
  int worker_;
  asio::any_io_executor ex_;
  std::shared_ptr<net::Conn> conn_;
  std::shared_ptr<net::BufferedStream> link_;  // once the transport is up
  std::optional<transport::PeerCertificate> peer_certificate_;
  std::string peer_;
  std::string ip_;
  std::string nonce_;
  Admission::Ticket ticket_;
  net::Deadline* deadline_ = nullptr;
};

}  // namespace

std::string IpOf(const std::string& peer) {
  if (!peer.empty() && peer[0] == '[') {
    auto end = peer.find(']');
    return end == std::string::npos ? peer : peer.substr(1, end - 1);
  }
  auto colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

asio::awaitable<void> ServeAgentConnection(const HandshakeEnv& env, int worker,
                                           asio::ip::tcp::socket socket, std::string peer,
                                           Admission::Ticket ticket) {
  auto conn = transport::AdoptTcp(std::move(socket), std::move(peer));
  Handshake h(env, worker, std::move(conn));
  co_await h.Run(std::move(ticket));
}

}  // namespace reitunnel::server
