#include "server/tunnel.h"

#include "asio/experimental/as_tuple.hpp"
#include "asio/use_awaitable.hpp"
#include "common/log/log.h"
#include "common/net/frame_io.h"
#include "common/net/spawn.h"

namespace reitunnel::server {

Tunnel::Tunnel(TunnelInfo info, asio::ip::tcp::acceptor acceptor, std::shared_ptr<DataPool> pool,
               std::chrono::milliseconds data_conn_timeout, uint32_t max_visitors)
    : info_(std::move(info)),
      acceptor_(std::move(acceptor)),
      pool_(std::move(pool)),
      data_conn_timeout_(data_conn_timeout),
      max_visitors_(max_visitors) {}

void Tunnel::Start() {
  net::Spawn(acceptor_.get_executor(), AcceptLoop(), "tunnel_accept");
}

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

ByteTotals Tunnel::Totals() const {
  ByteTotals t = finished_;
  for (auto& v : visitors_) {
    t.bytes_in += v->counters.a_to_b;
    t.bytes_out += v->counters.b_to_a;
  }
  t.visitors_active = visitors_.size();
  return t;
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
      continue;  // socket closes as it goes out of scope
    }
    auto v = std::make_shared<Visitor>();
    v->visitor = std::make_shared<net::Conn>(std::move(socket));
    visitors_.insert(v);
    net::Spawn(acceptor_.get_executor(), Serve(v), "visitor");
  }
}

asio::awaitable<void> Tunnel::Serve(std::shared_ptr<Visitor> v) {
  auto self = shared_from_this();
  try {
    v->data = co_await pool_->Acquire(data_conn_timeout_);
    if (!v->data) {
      log::Warn("visitor_dropped", "no data connection from the agent in time",
                {{"tunnel_id", info_.tunnel_id}, {"visitor", v->visitor->peer()}});
    } else {
      wire::v1::Frame start;
      start.mutable_start_relay()->set_tunnel_id(info_.tunnel_id);
      start.mutable_start_relay()->set_visitor_addr(v->visitor->peer());
      co_await net::WriteFrame(*v->data, start);
      co_await net::Relay(*v->visitor, *v->data, &v->counters);
    }
  } catch (const std::exception& e) {
    log::Debug("visitor_error", "visitor relay ended with an error",
               {{"tunnel_id", info_.tunnel_id}, {"error", e.what()}});
  }
  v->visitor->Close();
  if (v->data) v->data->Close();
  finished_.bytes_in += v->counters.a_to_b;
  finished_.bytes_out += v->counters.b_to_a;
  finished_.visitors_total++;
  visitors_.erase(v);
}

}  // namespace reitunnel::server
