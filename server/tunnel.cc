#include "server/tunnel.h"

#include "absl/strings/str_cat.h"
#include "asio/experimental/as_tuple.hpp"
#include "asio/use_awaitable.hpp"
#include "common/log/log.h"
#include "common/net/frame_io.h"
#include "common/net/spawn.h"
#include "server/hooks/hook_dispatcher.h"

namespace reitunnel::server {

Tunnel::Tunnel(TunnelInfo info, asio::ip::tcp::acceptor acceptor, std::shared_ptr<DataPool> pool,
               std::chrono::milliseconds data_conn_timeout, uint32_t max_visitors,
               HookDispatcher* hooks)
    : info_(std::move(info)),
      acceptor_(std::move(acceptor)),
      pool_(std::move(pool)),
      data_conn_timeout_(data_conn_timeout),
      max_visitors_(max_visitors),
      hooks_(hooks) {}

void Tunnel::Start() { net::Spawn(acceptor_.get_executor(), AcceptLoop(), "tunnel_accept"); }

void Tunnel::StopAccepting() {
  asio::error_code ec;
  acceptor_.close(ec);
}

void Tunnel::CloseVisitors() {
  for (auto& v : visitors_) {
    v->visitor->Close();
    if (v->data) v->data->Close();
  }
}

TunnelTotals Tunnel::Totals() const {
  TunnelTotals t = finished_;
  for (auto& v : visitors_) {
    t.bytes_in += v->counters.a_to_b;
    t.bytes_out += v->counters.b_to_a;
    t.events_in += v->counters.a_to_b_events;
    t.events_out += v->counters.b_to_a_events;
  }
  return t;
}

bool Tunnel::TakeTraffic(hook::v1::TunnelTraffic* out) {
  TunnelTotals now = Totals();
  TunnelTotals d;
  d.bytes_in = now.bytes_in - reported_.bytes_in;
  d.bytes_out = now.bytes_out - reported_.bytes_out;
  d.events_in = now.events_in - reported_.events_in;
  d.events_out = now.events_out - reported_.events_out;
  d.visitors_opened = now.visitors_opened - reported_.visitors_opened;
  d.visitors_closed = now.visitors_closed - reported_.visitors_closed;
  if (d.bytes_in == 0 && d.bytes_out == 0 && d.visitors_opened == 0 && d.visitors_closed == 0) {
    return false;
  }
  reported_ = now;
  out->set_client_id(info_.client_id);
  out->set_tunnel_id(info_.tunnel_id);
  out->set_tunnel_name(info_.name);
  out->set_bytes_received(d.bytes_in);
  out->set_bytes_sent(d.bytes_out);
  out->set_received_events(d.events_in);
  out->set_sent_events(d.events_out);
  out->set_visitors_opened(d.visitors_opened);
  out->set_visitors_closed(d.visitors_closed);
  return true;
}

asio::awaitable<void> Tunnel::AcceptLoop() {
  auto self = shared_from_this();
  for (;;) {
    auto [ec, socket] =
        co_await acceptor_.async_accept(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: keep serving the visitors we have.
      log::Warn("visitor_accept_failed", "accepting a visitor failed",
                {{"tunnel_id", info_.tunnel_id}, {"error", ec.message()}});
      asio::steady_timer backoff(acceptor_.get_executor(), std::chrono::milliseconds(50));
      co_await backoff.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      continue;
    }
    if (visitors_.size() >= max_visitors_) {
      log::Warn("visitor_rejected", "tunnel is at its visitor limit",
                {{"tunnel_id", info_.tunnel_id}, {"limit", max_visitors_}});
      continue;  // the socket closes as it goes out of scope
    }
    auto v = std::make_shared<Visitor>();
    v->id = absl::StrCat(info_.tunnel_id, "-", ++next_visitor_);
    v->visitor = std::make_shared<net::Conn>(std::move(socket));
    visitors_.insert(v);
    finished_.visitors_opened++;
    net::Spawn(acceptor_.get_executor(), Serve(v), "visitor");
  }
}

asio::awaitable<bool> Tunnel::AdmitVisitor(const Visitor& v) {
  if (!hooks_ || !hooks_->Subscribed(HookEvent::kVisitorConnect)) co_return true;
  hook::v1::VisitorConnectRequest req;
  req.set_client_id(info_.client_id);
  req.set_tunnel_id(info_.tunnel_id);
  req.mutable_metadata()->insert(info_.metadata.begin(), info_.metadata.end());
  (*req.mutable_metadata())["visitor_addr"] = v.visitor->peer();
  req.set_visitor_addr(v.visitor->peer());
  req.set_visitor_id(v.id);
  HookDecision d = co_await hooks_->Decide(HookEvent::kVisitorConnect, std::move(req));
  if (!d.allowed) {
    log::Info("visitor_denied", "visitor denied by policy",
              {{"tunnel_id", info_.tunnel_id}, {"visitor", v.visitor->peer()}, {"reason", d.reason}});
  }
  co_return d.allowed;
}

void Tunnel::NotifyVisitorClosed(const Visitor& v) {
  if (!hooks_ || !hooks_->Subscribed(HookEvent::kVisitorDisconnect)) return;
  hook::v1::VisitorDisconnectRequest req;
  req.set_client_id(info_.client_id);
  req.set_tunnel_id(info_.tunnel_id);
  req.mutable_metadata()->insert(info_.metadata.begin(), info_.metadata.end());
  (*req.mutable_metadata())["visitor_addr"] = v.visitor->peer();
  req.set_visitor_addr(v.visitor->peer());
  req.set_visitor_id(v.id);
  req.set_bytes_received(v.counters.a_to_b);
  req.set_bytes_sent(v.counters.b_to_a);
  req.set_duration_ms(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                            v.started)
          .count()));
  hooks_->Notify(HookEvent::kVisitorDisconnect, std::move(req));
}

asio::awaitable<void> Tunnel::Serve(std::shared_ptr<Visitor> v) {
  auto self = shared_from_this();
  bool admitted = false;
  try {
    admitted = co_await AdmitVisitor(*v);
    if (admitted && v->visitor->socket().is_open()) {
      v->data = co_await pool_->Acquire(data_conn_timeout_);
      if (!v->data) {
        log::Warn("visitor_dropped", "no data connection from the agent in time",
                  {{"tunnel_id", info_.tunnel_id}, {"visitor", v->visitor->peer()}});
        if (hooks_) {
          hook::v1::ErrorEvent err;
          err.set_component("relay");
          err.set_message("no data connection from the agent in time; visitor dropped");
          err.set_client_id(info_.client_id);
          err.set_tunnel_id(info_.tunnel_id);
          hooks_->Notify(HookEvent::kError, std::move(err));
        }
      } else {
        wire::v1::Frame start;
        start.mutable_start_relay()->set_tunnel_id(info_.tunnel_id);
        start.mutable_start_relay()->set_visitor_addr(v->visitor->peer());
        co_await net::WriteFrame(*v->data, start);
        co_await net::Relay(*v->visitor, *v->data, &v->counters);
      }
    }
  } catch (const std::exception& e) {
    log::Debug("visitor_error", "visitor relay ended with an error",
               {{"tunnel_id", info_.tunnel_id}, {"error", e.what()}});
  }
  v->visitor->Close();
  if (v->data) v->data->Close();
  finished_.bytes_in += v->counters.a_to_b;
  finished_.bytes_out += v->counters.b_to_a;
  finished_.events_in += v->counters.a_to_b_events;
  finished_.events_out += v->counters.b_to_a_events;
  finished_.visitors_closed++;
  visitors_.erase(v);
  if (admitted) NotifyVisitorClosed(*v);
}

}  // namespace reitunnel::server
