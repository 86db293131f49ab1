#include "common/runtime/worker_pool.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "gtest/gtest.h"

namespace reitunnel::runtime {
namespace {

using namespace std::chrono_literals;

// Runs fn on worker i and waits (bounded) for its result.
template <typename Fn>
auto OnWorker(WorkerPool& pool, int i, Fn fn) -> decltype(fn()) {
  std::promise<decltype(fn())> p;
  auto f = p.get_future();
  asio::post(pool.executor(i), [&] { p.set_value(fn()); });
  if (f.wait_for(30s) != std::future_status::ready) {
    ADD_FAILURE() << "worker " << i << " did not run the handler";
    std::abort();  // the handler still refers to this frame
  }
  return f.get();
}

std::string ThreadName() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return name;
}

TEST(WorkerPoolTest, EachWorkerIsItsOwnNamedThreadAndKnowsItsIndex) {
  WorkerPool pool(3, "wp");
  ASSERT_EQ(pool.size(), 3);
  pool.Start();
  std::set<std::thread::id> threads;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(OnWorker(pool, i, [] { return WorkerPool::CurrentIndex(); }), i);
    EXPECT_EQ(OnWorker(pool, i, [] { return ThreadName(); }), "wp-" + std::to_string(i));
    threads.insert(OnWorker(pool, i, [] { return std::this_thread::get_id(); }));
  }
  threads.insert(std::this_thread::get_id());
  EXPECT_EQ(threads.size(), 4u);
  EXPECT_EQ(WorkerPool::CurrentIndex(), -1);
  pool.Stop();
  pool.Join();
}

TEST(WorkerPoolTest, AtLeastOneWorker) {
  WorkerPool pool(0, "wp");
  EXPECT_EQ(pool.size(), 1);
}

TEST(WorkerPoolTest, AThrowingHandlerDoesNotStopTheLoop) {
  WorkerPool pool(1, "wp");
  pool.Start();
  asio::post(pool.executor(0), [] { throw std::runtime_error("handler bug"); });
  EXPECT_EQ(OnWorker(pool, 0, [] { return 42; }), 42);
}

TEST(WorkerPoolTest, StopReturnsLoopsWithWorkStillQueued) {
  WorkerPool pool(2, "wp");
  pool.Start();
  // A timer keeps worker 1 busy "forever"; Stop must not wait for it.
  auto timer = std::make_shared<asio::steady_timer>(pool.executor(1), std::chrono::hours(1));
  timer->async_wait([timer](const asio::error_code&) {});
  timer.reset();
  auto start = std::chrono::steady_clock::now();
  pool.Stop();
  pool.Join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

// Counts how many of its kind were destroyed, and on destruction touches
// an object bound to another worker's loop (as a relay holding a session's
// timer does). ASan reports it if that loop is already gone.
struct CrossLoopHolder {
  CrossLoopHolder(std::shared_ptr<asio::steady_timer> t, std::atomic<int>* d)
      : other_loop_timer(std::move(t)), destroyed(d) {}
  ~CrossLoopHolder() {
    other_loop_timer->cancel();
    other_loop_timer.reset();
    destroyed->fetch_add(1);
  }
  CrossLoopHolder(const CrossLoopHolder&) = delete;
  CrossLoopHolder& operator=(const CrossLoopHolder&) = delete;

  std::shared_ptr<asio::steady_timer> other_loop_timer;
  std::atomic<int>* destroyed;
};

TEST(WorkerPoolTest, ShutdownDestroysQueuedHandlersWhileEveryLoopExists) {
  std::atomic<int> destroyed{0};
  {
    WorkerPool pool(2, "wp");
    pool.Start();
    pool.Stop();
    pool.Join();
    // Handlers left queued on each loop, holding timers (with pending waits)
    // of the other loop.
    for (int i = 0; i < 2; ++i) {
      auto timer =
          std::make_shared<asio::steady_timer>(pool.executor(1 - i), std::chrono::hours(1));
      timer->async_wait([](const asio::error_code&) {});
      auto holder = std::make_shared<CrossLoopHolder>(timer, &destroyed);
      asio::post(pool.executor(i), [holder] { ADD_FAILURE() << "ran after Stop"; });
    }
    EXPECT_EQ(destroyed.load(), 0);
    pool.Shutdown();
    EXPECT_EQ(destroyed.load(), 2);
    pool.Shutdown();  // idempotent
  }
  EXPECT_EQ(destroyed.load(), 2);
}

TEST(WorkerPoolTest, ShutdownWhileRunningDoesNothing) {
  WorkerPool pool(2, "wp");
  pool.Start();
  pool.Shutdown();
  // The loops are intact and still serve handlers.
  EXPECT_EQ(OnWorker(pool, 1, [] { return WorkerPool::CurrentIndex(); }), 1);
  pool.Stop();
  pool.Join();
}

TEST(WorkerPoolTest, DestructorStopsAndJoins) {
  std::atomic<bool> ran{false};
  {
    WorkerPool pool(2, "wp");
    pool.Start();
    OnWorker(pool, 0, [&] {
      ran = true;
      return 0;
    });
  }
  EXPECT_TRUE(ran.load());
}

}  // namespace
}  // namespace reitunnel::runtime
