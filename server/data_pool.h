#pragma once

// An agent's idle, authenticated data connections. Visitors take one each;
// when none is idle a visitor waits (bounded) while the agent is asked for
// more. Idle connections are watched so a dead one leaves the pool at once.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "asio/steady_timer.hpp"
#include "common/net/conn.h"

namespace reitunnel::server {

class DataPool : public std::enable_shared_from_this<DataPool> {
 public:
  // `request_more(n)` is called when n visitors are waiting with no idle
  // connection; the session turns it into a NeedDataConns frame.
  DataPool(asio::any_io_executor ex, std::function<void(uint32_t)> request_more)
      : ex_(std::move(ex)), request_more_(std::move(request_more)) {}

  void Add(std::shared_ptr<net::Conn> conn);
  // Null on timeout or when the pool is closed.
  asio::awaitable<std::shared_ptr<net::Conn>> Acquire(std::chrono::milliseconds timeout);
  // Closes idle connections and fails every waiter.
  void Close();

  size_t idle() const { return idle_.size(); }
  size_t waiting() const { return waiters_.size(); }

 private:
  struct Waiter {
    explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    std::shared_ptr<net::Conn> conn;
  };
  void Watch(const std::shared_ptr<net::Conn>& conn);

  asio::any_io_executor ex_;
  std::function<void(uint32_t)> request_more_;
  std::deque<std::shared_ptr<net::Conn>> idle_;
  std::deque<std::shared_ptr<Waiter>> waiters_;
  bool closed_ = false;
};

}  // namespace reitunnel::server
