#include "common/runtime/run_on_each.h"

#include <chrono>
#include <functional>
#include <future>
#include <thread>
#include <vector>

#include "asio/co_spawn.hpp"
#include "asio/io_context.hpp"
#include "asio/use_future.hpp"
#include "common/runtime/worker_pool.h"
#include "gtest/gtest.h"

namespace reitunnel::runtime {
namespace {

using namespace std::chrono_literals;

std::vector<asio::any_io_executor> Executors(WorkerPool& pool) {
  std::vector<asio::any_io_executor> out;
  for (int i = 0; i < pool.size(); ++i) out.push_back(pool.executor(i));
  return out;
}

TEST(RunOnEachTest, RunsOnEveryTargetAndResumesAtHome) {
  WorkerPool pool(3, "roe");
  pool.Start();
  asio::io_context home;
  std::vector<int> ran_on(3, -2);
  const auto test_thread = std::this_thread::get_id();
  bool resumed_at_home = false;
  auto body = [&]() -> asio::awaitable<void> {
    const std::function<void(size_t)> fn = [&](size_t i) { ran_on[i] = WorkerPool::CurrentIndex(); };
    const std::vector<asio::any_io_executor> targets = Executors(pool);
    co_await RunOnEach(targets, fn);
    resumed_at_home = std::this_thread::get_id() == test_thread;
  };
  auto done = asio::co_spawn(home, body(), asio::use_future);
  home.run_for(30s);
  ASSERT_EQ(done.wait_for(0s), std::future_status::ready);
  done.get();
  EXPECT_TRUE(resumed_at_home);
  EXPECT_EQ(ran_on, (std::vector<int>{0, 1, 2}));
}

TEST(RunOnEachTest, FromAWorkerToEveryWorkerIncludingItself) {
  WorkerPool pool(2, "roe");
  pool.Start();
  std::vector<int> ran_on(2, -2);
  int resumed_on = -2;
  auto body = [&]() -> asio::awaitable<void> {
    const std::function<void(size_t)> fn = [&](size_t i) { ran_on[i] = WorkerPool::CurrentIndex(); };
    const std::vector<asio::any_io_executor> targets = Executors(pool);
    co_await RunOnEach(targets, fn);
    resumed_on = WorkerPool::CurrentIndex();
  };
  auto done = asio::co_spawn(pool.executor(1), body(), asio::use_future);
  ASSERT_EQ(done.wait_for(30s), std::future_status::ready);
  done.get();
  EXPECT_EQ(resumed_on, 1);
  EXPECT_EQ(ran_on, (std::vector<int>{0, 1}));
}

TEST(RunOnEachTest, NoTargetsResumesAtOnce) {
  asio::io_context home;
  bool called = false;
  bool finished = false;
  auto body = [&]() -> asio::awaitable<void> {
    const std::function<void(size_t)> fn = [&](size_t) { called = true; };
    const std::vector<asio::any_io_executor> none;
    co_await RunOnEach(none, fn);
    finished = true;
  };
  auto done = asio::co_spawn(home, body(), asio::use_future);
  home.run_for(30s);
  done.get();
  EXPECT_TRUE(finished);
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace reitunnel::runtime
