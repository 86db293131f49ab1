#pragma once

// One worker's share of an agent's idle, authenticated data connections
// ("links"). Visitors accepted on this worker take one; when none is idle
// a visitor waits (bounded). Lives on its worker; idle() and waiting() may
// be read from any thread (siblings balance links between workers).

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>

#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "asio/steady_timer.hpp"
#include "common/net/buffered_stream.h"

namespace reitunnel::server {

using Link = std::shared_ptr<net::BufferedStream>;

class DataPool : public std::enable_shared_from_this<DataPool> {
 public:
  explicit DataPool(asio::any_io_executor ex) : ex_(std::move(ex)) {}

  // Hands `link` to the oldest waiter, else keeps it idle. Idle links are
  // watched: the agent never writes on one, so readability means it closed.
  void Add(Link link);
  // Null on timeout, when the pool is closed, or when RedirectOneWaiter
  // picked this waiter: then *redirected_to is its worker, else -1. A waiter
  // without `redirected_to` cannot move (a UDP flow) and is never picked.
  asio::awaitable<Link> Acquire(std::chrono::milliseconds timeout,
                                int* redirected_to = nullptr);
  // Wakes the oldest waiter that can move, telling it that `worker` has a
  // link for it (links that cannot change threads: the visitor moves).
  // False when no such waiter waits.
  bool RedirectOneWaiter(int worker);
  // The most recently idle link (warmest), or null.
  Link TakeIdle();
  // Closes `n` idle links, the longest idle first (the agent retires spares).
  size_t Retire(size_t n);
  // Closes idle links and fails every waiter.
  void Close();

  int idle() const { return idle_count_.load(std::memory_order_relaxed); }
  int waiting() const { return waiting_count_.load(std::memory_order_relaxed); }
  int waiting_movable() const { return waiting_movable_count_.load(std::memory_order_relaxed); }

 private:
  struct Waiter {
    explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    Link link;
    int redirected_to = -1;
    bool movable = true;
  };
  void Watch(const Link& link);
  void Publish();

  asio::any_io_executor ex_;
  std::deque<Link> idle_;
  std::deque<std::shared_ptr<Waiter>> waiters_;
  std::atomic<int> idle_count_{0};
  std::atomic<int> waiting_count_{0};
  std::atomic<int> waiting_movable_count_{0};
  bool closed_ = false;
};

}  // namespace reitunnel::server
