#include "server/data_pool.h"

#include <algorithm>

#include "asio/experimental/as_tuple.hpp"
#include "asio/use_awaitable.hpp"

namespace reitunnel::server {

void DataPool::Add(std::shared_ptr<net::Conn> conn) {
  if (closed_) {
    conn->Close();
    return;
  }
  if (!waiters_.empty()) {
    auto w = std::move(waiters_.front());
    waiters_.pop_front();
    w->conn = std::move(conn);
    w->timer.cancel();
    return;
  }
  idle_.push_back(conn);
  Watch(conn);
}

void DataPool::Watch(const std::shared_ptr<net::Conn>& conn) {
  // The agent never writes on an idle data connection, so readability means
  // EOF or reset: drop it. Taking a connection cancels this wait.
  conn->socket().async_wait(
      net::tcp::socket::wait_read,
      [weak = weak_from_this(), conn](const asio::error_code& ec) {
        if (ec == asio::error::operation_aborted) return;
        if (auto self = weak.lock()) {
          auto it = std::find(self->idle_.begin(), self->idle_.end(), conn);
          if (it == self->idle_.end()) return;  // already handed to a visitor
          self->idle_.erase(it);
        }
        conn->Close();
      });
}

asio::awaitable<std::shared_ptr<net::Conn>> DataPool::Acquire(std::chrono::milliseconds timeout) {
  if (!idle_.empty()) {
    auto conn = std::move(idle_.front());
    idle_.pop_front();
    asio::error_code ec;
    conn->socket().cancel(ec);
    co_return conn;
  }
  if (closed_) co_return nullptr;
  auto self = shared_from_this();
  auto w = std::make_shared<Waiter>(ex_);
  w->timer.expires_after(timeout);
  waiters_.push_back(w);
  request_more_(1);
  co_await w->timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  if (!w->conn) {
    auto it = std::find(waiters_.begin(), waiters_.end(), w);
    if (it != waiters_.end()) waiters_.erase(it);
  }
  co_return std::move(w->conn);
}

void DataPool::Close() {
  closed_ = true;
  for (auto& c : idle_) c->Close();
  idle_.clear();
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters) w->timer.cancel();
}

}  // namespace reitunnel::server
