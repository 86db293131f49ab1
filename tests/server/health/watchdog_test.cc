// The data-plane watchdog (issue 8, defect 10): a worker whose event loop is
// blocked by a handler is reported within the bound, and healthy again once
// it runs.

#include "server/health/watchdog.h"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

#include "asio/executor_work_guard.hpp"
#include "asio/io_context.hpp"
#include "asio/post.hpp"
#include "common/runtime/worker_pool.h"
#include "gtest/gtest.h"

namespace reitunnel::server {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A handler that blocks its worker until released.
class Gate {
 public:
  void Block() {
    std::unique_lock<std::mutex> l(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(l, [this] { return open_; });
  }
  bool WaitEntered(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, limit, [this] { return entered_; });
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool open_ = false;
};

// Runs the control loop on this thread until `pred` holds (or `limit`).
bool RunUntil(asio::io_context& control, const std::function<bool()>& pred,
              std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    control.run_one_for(5ms);
  }
  return true;
}

TEST(WatchdogTest, BlockedWorkerIsReportedWithinTheBoundAndRecovers) {
  runtime::WorkerPool workers(2, "wd-test");
  workers.Start();
  asio::io_context control;
  auto guard = asio::make_work_guard(control);
  std::vector<bool> changes;  // on_change runs on the control loop (this thread)
  const auto interval = 20ms;
  const auto bound = 200ms;
  Watchdog dog(control.get_executor(), workers, interval, bound,
               [&](bool healthy) { changes.push_back(healthy); });
  dog.Start();
  // Healthy while every worker answers.
  const auto settle = Clock::now() + 4 * bound;
  EXPECT_TRUE(RunUntil(control, [&] { return Clock::now() > settle; }, 10s));
  EXPECT_TRUE(dog.healthy());
  EXPECT_EQ(dog.wedged_worker(), -1);
  EXPECT_TRUE(changes.empty());

  Gate gate;
  asio::post(workers.executor(1), [&] { gate.Block(); });
  ASSERT_TRUE(gate.WaitEntered(10s));
  const auto blocked_at = Clock::now();
  ASSERT_TRUE(RunUntil(control, [&] { return !dog.healthy(); }, 10s));
  const auto detected_after = Clock::now() - blocked_at;
  EXPECT_EQ(dog.wedged_worker(), 1);
  EXPECT_EQ(changes, std::vector<bool>{false});
  // Not before the bound has passed, and not long after it (a probe
  // interval, plus scheduling slack on a loaded machine).
  EXPECT_GE(detected_after, bound - interval);
  EXPECT_LT(detected_after, bound + 2 * interval + 2s);

  gate.Open();
  ASSERT_TRUE(RunUntil(control, [&] { return dog.healthy(); }, 10s));
  EXPECT_EQ(dog.wedged_worker(), -1);
  EXPECT_EQ(changes, (std::vector<bool>{false, true}));

  dog.Stop();
  guard.reset();
  control.run_for(10s);  // the loop coroutine ends
  EXPECT_TRUE(control.stopped());
  workers.Stop();
  workers.Join();
}

TEST(WatchdogTest, StopEndsTheLoopAtOnce) {
  runtime::WorkerPool workers(1, "wd-test");
  workers.Start();
  asio::io_context control;
  int changes = 0;
  Watchdog dog(control.get_executor(), workers, std::chrono::hours(1), 1s,
               [&](bool) { ++changes; });
  dog.Start();
  control.poll();
  dog.Stop();
  control.run_for(10s);
  EXPECT_TRUE(control.stopped());  // no hour-long timer left
  EXPECT_EQ(changes, 0);
  EXPECT_TRUE(dog.healthy());
}

}  // namespace
}  // namespace reitunnel::server
