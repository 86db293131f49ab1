#include "server/agent_session.h"

#include "absl/strings/str_cat.h"
#include "asio/experimental/as_tuple.hpp"
#include "asio/use_awaitable.hpp"
#include "common/log/log.h"
#include "common/net/spawn.h"
#include "common/wire/auth.h"
#include "common/wire/frame.h"
#include "server/hooks/hook_dispatcher.h"
#include "server/server.h"

namespace reitunnel::server {
namespace {

bool ValidTunnelName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

AgentSession::AgentSession(Server& server, AgentInfo info, std::string session_key,
                           std::shared_ptr<net::Conn> conn)
    : server_(server),
      info_(std::move(info)),
      session_key_(std::move(session_key)),
      conn_(std::move(conn)),
      writer_(std::make_shared<net::FrameWriter>(server.executor(), conn_)),
      watchdog_(server.executor()) {
  pool_ = std::make_shared<DataPool>(server.executor(), [this](uint32_t n) {
    wire::v1::Frame f;
    f.mutable_need_data_conns()->set_count(n);
    writer_->Send(f);
  });
}

size_t AgentSession::active_visitors() const {
  size_t n = 0;
  for (auto& [_, t] : tunnels_) n += t->active_visitors();
  return n;
}

asio::awaitable<void> AgentSession::Run() {
  auto self = shared_from_this();
  log::Info("agent_connected", "agent connected",
            {{"client_id", info_.client_id},
             {"remote_addr", info_.remote_addr},
             {"agent_version", info_.agent_version}});
  last_rx_ = std::chrono::steady_clock::now();
  net::Spawn(server_.executor(), Watchdog(), "agent_watchdog");
  std::string reason = "agent closed the connection";
  try {
    while (!closed_) {
      wire::v1::Frame frame = co_await net::ReadFrame(*conn_);
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
  } catch (const std::system_error& e) {
    if (e.code() != asio::error::eof) reason = e.code().message();
  }
  if (!close_reason_.empty()) reason = close_reason_;
  closed_ = true;
  watchdog_.cancel();
  CloseTunnels(reason);
  pool_->Close();
  conn_->Close();
  server_.RemoveSession(info_.client_id);
  log::Info("agent_disconnected", "agent disconnected",
            {{"client_id", info_.client_id}, {"reason", reason}});
  if (auto* hooks = server_.hooks()) {
    hook::v1::ClientDisconnectRequest req;
    req.set_client_id(info_.client_id);
    auto md = Metadata();
    req.mutable_metadata()->insert(md.begin(), md.end());
    req.set_reason(reason);
    hooks->Notify(HookEvent::kClientDisconnect, std::move(req));
  }
}

asio::awaitable<void> AgentSession::Watchdog() {
  auto self = shared_from_this();
  const auto idle = server_.idle_timeout();
  while (!closed_) {
    watchdog_.expires_after(idle / 4);
    auto [ec] = co_await watchdog_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec || closed_) co_return;
    if (std::chrono::steady_clock::now() - last_rx_ > idle) {
      close_reason_ = "heartbeat timeout";
      conn_->Close();
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
  auto guard = std::make_shared<asio::steady_timer>(server_.io(), std::chrono::seconds(1));
  guard->async_wait([guard, conn = conn_](const asio::error_code& ec) {
    if (!ec) conn->Close();
  });
}

bool AgentSession::CloseTunnel(const std::string& tunnel_id, const std::string& reason) {
  for (auto it = tunnels_.begin(); it != tunnels_.end(); ++it) {
    if (it->second->info().tunnel_id != tunnel_id) continue;
    auto t = it->second;
    tunnels_.erase(it);
    FinishTunnel(*t, reason);
    wire::v1::Frame f;
    auto* c = f.mutable_tunnel_closed();
    c->set_name(t->info().name);
    c->set_tunnel_id(tunnel_id);
    c->set_reason(reason);
    writer_->Send(f);
    return true;
  }
  return false;
}

void AgentSession::StopAccepting() {
  for (auto& [_, t] : tunnels_) t->StopAccepting();
}

void AgentSession::RefuseTunnel(const std::string& name, wire::v1::RefusalCode code,
                                const std::string& reason) {
  log::Warn("tunnel_refused", "tunnel refused",
            {{"client_id", info_.client_id},
             {"name", name},
             {"code", wire::v1::RefusalCode_Name(code).substr(13)},
             {"reason", reason}});
  wire::v1::Frame f;
  auto* r = f.mutable_tunnel_refused();
  r->set_name(name);
  r->set_code(code);
  r->set_reason(reason);
  writer_->Send(f);
}

std::map<std::string, std::string> AgentSession::Metadata() const {
  std::map<std::string, std::string> md;
  md["remote_addr"] = info_.remote_addr;
  md["agent_version"] = info_.agent_version;
  md["client_id"] = info_.client_id;
  for (const auto& [k, v] : info_.labels) md["label." + k] = v;
  return md;
}

void AgentSession::CollectTraffic(std::vector<hook::v1::TunnelTraffic>* out) {
  for (auto& [_, t] : tunnels_) {
    hook::v1::TunnelTraffic traffic;
    if (t->TakeTraffic(&traffic)) out->push_back(std::move(traffic));
  }
}

asio::awaitable<void> AgentSession::HandleOpenTunnel(wire::v1::OpenTunnel req) {
  auto self = shared_from_this();
  // The name is echoed back and logged, so bound it before anything else.
  std::string name = req.name().substr(0, 64);
  if (!ValidTunnelName(req.name())) {
    RefuseTunnel(name, wire::v1::REFUSAL_CODE_BAD_REQUEST,
                 "invalid tunnel name (expected 1-64 of [A-Za-z0-9_.-])");
    co_return;
  }
  if (server_.draining()) {
    RefuseTunnel(name, wire::v1::REFUSAL_CODE_UNAVAILABLE, "server is shutting down");
    co_return;
  }
  if (tunnels_.count(name)) {
    RefuseTunnel(name, wire::v1::REFUSAL_CODE_BAD_REQUEST,
                 absl::StrCat("tunnel \"", name, "\" is already open for this agent"));
    co_return;
  }
  const uint32_t max_tunnels = server_.config().limits().max_tunnels_per_agent();
  if (tunnels_.size() >= max_tunnels) {
    RefuseTunnel(name, wire::v1::REFUSAL_CODE_LIMIT,
                 absl::StrCat("agent already has the maximum of ", max_tunnels, " tunnels"));
    co_return;
  }
  if (req.remote_port() != 0 && !server_.ports().InRange(req.remote_port())) {
    RefuseTunnel(name, wire::v1::REFUSAL_CODE_PORT_OUT_OF_RANGE,
                 absl::StrCat("port ", req.remote_port(), " is outside the allowed range ",
                              server_.ports().RangeString()));
    co_return;
  }

  TunnelInfo ti;
  ti.tunnel_id = wire::RandomId(8);
  ti.name = name;
  ti.client_id = info_.client_id;
  ti.local_addr = req.local_addr().substr(0, 256);
  ti.metadata = Metadata();
  ti.metadata["tunnel_name"] = name;
  ti.metadata["local_addr"] = ti.local_addr;
  ti.metadata["remote_port"] = absl::StrCat(req.remote_port());

  // The hook decides before the port is bound, so a veto leaves nothing bound.
  if (auto* hooks = server_.hooks(); hooks && hooks->Subscribed(HookEvent::kTunnelOpen)) {
    hook::v1::TunnelOpenRequest hr;
    hr.set_client_id(info_.client_id);
    hr.set_tunnel_id(ti.tunnel_id);
    hr.mutable_metadata()->insert(ti.metadata.begin(), ti.metadata.end());
    hr.set_tunnel_name(name);
    hr.set_remote_port(req.remote_port());
    hr.set_local_addr(ti.local_addr);
    HookDecision d = co_await hooks->Decide(HookEvent::kTunnelOpen, std::move(hr));
    if (closed_) co_return;
    if (!d.allowed) {
      RefuseTunnel(name, wire::v1::REFUSAL_CODE_DENIED, d.reason);
      co_return;
    }
  }

  Refusal refusal{wire::v1::REFUSAL_CODE_UNSPECIFIED, ""};
  auto acceptor = server_.ports().Bind(server_.io(), req.remote_port(), &refusal);
  if (!acceptor.is_open()) {
    RefuseTunnel(name, refusal.code, refusal.reason);
    co_return;
  }
  ti.remote_port = acceptor.local_endpoint().port();
  ti.metadata["remote_port"] = absl::StrCat(ti.remote_port);
  auto tunnel = std::make_shared<Tunnel>(
      ti, std::move(acceptor), pool_,
      std::chrono::milliseconds(server_.config().timeouts().data_connection_ms()),
      server_.config().limits().max_visitors_per_tunnel(), server_.hooks());
  tunnels_[name] = tunnel;
  tunnel->Start();
  log::Info("tunnel_open", "tunnel open",
            {{"client_id", info_.client_id},
             {"tunnel_id", ti.tunnel_id},
             {"name", name},
             {"remote_port", ti.remote_port},
             {"local_addr", ti.local_addr}});
  wire::v1::Frame f;
  auto* o = f.mutable_tunnel_opened();
  o->set_name(name);
  o->set_tunnel_id(ti.tunnel_id);
  o->set_remote_port(ti.remote_port);
  writer_->Send(f);
}

void AgentSession::CloseTunnels(const std::string& reason) {
  auto tunnels = std::move(tunnels_);
  tunnels_.clear();
  // Stop everything first and send the final traffic of all tunnels as one
  // batch, so the closes that follow cost one stream turnover, not one each.
  std::vector<hook::v1::TunnelTraffic> last;
  for (auto& [_, t] : tunnels) {
    t->StopAccepting();
    t->CloseVisitors();
    hook::v1::TunnelTraffic traffic;
    if (t->TakeTraffic(&traffic)) last.push_back(std::move(traffic));
  }
  if (auto* hooks = server_.hooks()) hooks->PublishTraffic(std::move(last));
  for (auto& [_, t] : tunnels) FinishTunnel(*t, reason);
}

void AgentSession::FinishTunnel(Tunnel& t, const std::string& reason) {
  t.StopAccepting();
  t.CloseVisitors();
  // Counters are final once the sockets are closed: no byte moves after.
  TunnelTotals totals = t.Totals();
  server_.AddClosedTotals(totals);
  log::Info("tunnel_closed", "tunnel closed",
            {{"client_id", info_.client_id},
             {"tunnel_id", t.info().tunnel_id},
             {"name", t.info().name},
             {"remote_port", t.info().remote_port},
             {"bytes_in", totals.bytes_in},
             {"bytes_out", totals.bytes_out},
             {"visitors", totals.visitors_opened},
             {"reason", reason}});
  auto* hooks = server_.hooks();
  if (!hooks) return;
  // The last batch naming the tunnel goes out before its OnTunnelClose.
  hook::v1::TunnelTraffic last;
  if (t.TakeTraffic(&last)) hooks->PublishTraffic({std::move(last)});
  hook::v1::TunnelCloseRequest req;
  req.set_client_id(info_.client_id);
  req.set_tunnel_id(t.info().tunnel_id);
  req.mutable_metadata()->insert(t.info().metadata.begin(), t.info().metadata.end());
  req.set_reason(reason);
  req.set_bytes_received(totals.bytes_in);
  req.set_bytes_sent(totals.bytes_out);
  req.set_visitors(totals.visitors_opened);
  req.set_remote_port(t.info().remote_port);
  hooks->Notify(HookEvent::kTunnelClose, std::move(req));
}

}  // namespace reitunnel::server
