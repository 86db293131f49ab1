#pragma once

// An io_context on its own thread for tests, with helpers to run an
// awaitable or a function on it and wait (bounded) for the result.

#include <chrono>
#include <functional>
#include <future>
#include <thread>
#include <utility>

#include "asio/co_spawn.hpp"
#include "asio/executor_work_guard.hpp"
#include "asio/io_context.hpp"
#include "asio/post.hpp"
#include "asio/use_future.hpp"
#include "gtest/gtest.h"
#include "server/cluster/etcd/strand.h"

namespace reitunnel::cluster::testing {

class IoThread {
 public:
  IoThread() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~IoThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }

  asio::any_io_executor executor() { return io_.get_executor(); }
  Strand NewStrand() { return asio::make_strand(executor()); }

  template <typename T>
  T Run(asio::awaitable<T> awaitable, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    auto future = asio::co_spawn(io_, std::move(awaitable), asio::use_future);
    if (future.wait_for(timeout) != std::future_status::ready) {
      ADD_FAILURE() << "coroutine did not finish in time";
      std::abort();  // the coroutine still references the test's objects
    }
    return future.get();
  }

  // Runs fn on `strand` and waits for it.
  void On(const Strand& strand, std::function<void()> fn) {
    std::promise<void> done;
    asio::post(strand, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

// Polls `condition` every 10 ms until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& condition,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace reitunnel::cluster::testing
