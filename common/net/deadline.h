#pragma once

// "Close this connection if the deadline passes": one timer armed for the
// lifetime of the guard. Every handshake wait runs under one of these, so a
// peer that stalls anywhere is cut off.

#include <chrono>
#include <functional>
#include <memory>

#include "asio/any_io_executor.hpp"
#include "asio/steady_timer.hpp"

namespace reitunnel::net {

class Deadline {
 public:
  // Calls `on_expiry` (on `ex`) if `timeout` passes before Cancel() or
  // destruction. `on_expiry` usually closes a connection, which fails the
  // pending operation of whoever waits on it.
  Deadline(asio::any_io_executor ex, std::chrono::milliseconds timeout,
           std::function<void()> on_expiry);
  ~Deadline() { Cancel(); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  void Cancel();
  bool expired() const { return state_->expired; }

 private:
  struct State {
    explicit State(asio::any_io_executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    std::function<void()> on_expiry;
    bool expired = false;
    bool cancelled = false;
  };
  std::shared_ptr<State> state_;
};

}  // namespace reitunnel::net
