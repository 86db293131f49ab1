#include "server/session/data_pool.h"

#include <algorithm>

#include "asio/experimental/as_tuple.hpp"
#include "asio/use_awaitable.hpp"
#include "common/net/conn.h"

namespace reitunnel::server {

void DataPool::Publish() {
  idle_count_.store(static_cast<int>(idle_.size()), std::memory_order_relaxed);
  waiting_count_.store(static_cast<int>(waiters_.size()), std::memory_order_relaxed);
  const auto movable = std::count_if(waiters_.begin(), waiters_.end(),
                                     [](const auto& w) { return w->movable; });
  waiting_movable_count_.store(static_cast<int>(movable), std::memory_order_relaxed);
}

void DataPool::Add(Link link) {
  if (closed_ || !link->is_open()) {
    link->Close();
    return;
  }
  if (!waiters_.empty()) {
    auto w = std::move(waiters_.front());
    waiters_.pop_front();
    w->link = std::move(link);
    w->timer.cancel();
    Publish();
    return;
  }
  idle_.push_back(link);
  Publish();
  Watch(link);
}

void DataPool::Watch(const Link& link) {
  auto* conn = dynamic_cast<net::Conn*>(link->inner().get());
  if (!conn) return;
  conn->socket().async_wait(
      net::tcp::socket::wait_read, [weak = weak_from_this(), link](const asio::error_code& ec) {
        if (ec == asio::error::operation_aborted) return;
        if (auto self = weak.lock()) {
          auto it = std::find(self->idle_.begin(), self->idle_.end(), link);
          if (it == self->idle_.end()) return;  // already handed to a visitor
          self->idle_.erase(it);
          self->Publish();
        }
        link->Close();
      });
}

namespace {
void StopWatching(const Link& link) {
  if (auto* conn = dynamic_cast<net::Conn*>(link->inner().get())) {
    asio::error_code ec;
    conn->socket().cancel(ec);
  }
}
}  // namespace

Link DataPool::TakeIdle() {
  if (idle_.empty()) return nullptr;
  Link link = std::move(idle_.back());
  idle_.pop_back();
  Publish();
  StopWatching(link);
  return link;
}

bool DataPool::RedirectOneWaiter(int worker) {
  auto it = std::find_if(waiters_.begin(), waiters_.end(),
                         [](const auto& w) { return w->movable; });
  if (it == waiters_.end()) return false;
  auto w = std::move(*it);
  waiters_.erase(it);
  w->redirected_to = worker;
  w->timer.cancel();
  Publish();
  return true;
}

asio::awaitable<Link> DataPool::Acquire(std::chrono::milliseconds timeout, int* redirected_to) {
  if (redirected_to) *redirected_to = -1;
  if (Link link = TakeIdle()) co_return link;
  if (closed_) co_return nullptr;
  auto self = shared_from_this();
  auto w = std::make_shared<Waiter>(ex_);
  w->movable = redirected_to != nullptr;
  w->timer.expires_after(timeout);
  waiters_.push_back(w);
  Publish();
  co_await w->timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  if (!w->link) {
    auto it = std::find(waiters_.begin(), waiters_.end(), w);
    if (it != waiters_.end()) waiters_.erase(it);
    Publish();
    if (redirected_to) *redirected_to = w->redirected_to;
  }
  co_return std::move(w->link);
}

size_t DataPool::Retire(size_t n) {
  size_t done = 0;
  while (done < n && !idle_.empty()) {
    Link link = std::move(idle_.front());
    idle_.pop_front();
    StopWatching(link);
    link->Close();
    ++done;
  }
  Publish();
  return done;
}

void DataPool::Close() {
  closed_ = true;
  for (auto& l : idle_) {
    StopWatching(l);
    l->Close();
  }
  idle_.clear();
  auto waiters = std::move(waiters_);
  waiters_.clear();
  Publish();
  for (auto& w : waiters) w->timer.cancel();
}

}  // namespace reitunnel::server
