#pragma once

// Liveness of the data plane: every interval, each worker is sent a probe
// through its own event loop. A worker that has not run its probe within
// `bound` is wedged (a handler blocking, a busy loop): the server reports
// NOT_SERVING until it answers again, so an orchestrator restarts a pod
// whose relays stopped moving even though its admin port still answers.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "asio/steady_timer.hpp"

namespace reitunnel::runtime {
class WorkerPool;
}

namespace reitunnel::server {

class Watchdog {
 public:
  // `on_change(healthy)` runs on `control` when the verdict changes.
  Watchdog(asio::any_io_executor control, runtime::WorkerPool& workers,
           std::chrono::milliseconds interval, std::chrono::milliseconds bound,
           std::function<void(bool healthy)> on_change);

  void Start();
  void Stop();
  bool healthy() const { return healthy_.load(); }
  // Index of a wedged worker, or -1.
  int wedged_worker() const { return wedged_.load(); }

 private:
  asio::awaitable<void> Loop();

  asio::any_io_executor control_;
  runtime::WorkerPool& workers_;
  std::chrono::milliseconds interval_;
  std::chrono::milliseconds bound_;
  std::function<void(bool)> on_change_;
  asio::steady_timer timer_;
  // Steady-clock nanoseconds of each worker's last answered probe.
  std::shared_ptr<std::vector<std::atomic<int64_t>>> answered_;
  // When each worker's outstanding probe was posted (control thread only).
  // A worker is judged by how long its probe waits, not by when it last
  // answered: an idle worker answers at once and then waits for the next.
  std::vector<int64_t> posted_;
  std::atomic<bool> healthy_{true};
  std::atomic<int> wedged_{-1};
  bool stopped_ = false;
};

}  // namespace reitunnel::server
