#pragma once

// N event loops, each on its own thread. Everything a connection owns lives
// on one worker, so the data path needs no locks; work crosses workers only
// by asio::post (an fd handed over, a result delivered).

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "asio/any_io_executor.hpp"
#include "asio/executor_work_guard.hpp"
#include "asio/io_context.hpp"

namespace reitunnel::runtime {

class WorkerPool {
 public:
  // `name` prefixes thread names ("<name>-0", ...). n >= 1.
  WorkerPool(int n, std::string name);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()); }
  asio::io_context& context(int i) { return workers_[i]->io; }
  asio::any_io_executor executor(int i) { return workers_[i]->io.get_executor(); }

  // Starts the threads. Each loop runs until Stop().
  void Start();
  // Asks every loop to return; does not wait.
  void Stop();
  // Waits for the threads (after Stop()).
  void Join();
  // After Join(): destroys every handler still queued in every loop (pending
  // coroutines) while all loops still exist. Handlers of one worker often
  // own objects bound to another (a session's timer on its home worker held
  // by a relay elsewhere); destroying loops one by one would free those
  // objects after their loop is gone. Idempotent; the destructor calls it.
  void Shutdown();

  // The index of the worker running the calling thread in any pool, or -1.
  static int CurrentIndex();

 private:
  // io_context with its (protected) two-phase teardown exposed.
  class Loop : public asio::io_context {
   public:
    Loop() : asio::io_context(1) {}
    using asio::execution_context::shutdown;
  };
  struct Worker {
    Loop io;
    asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
    std::thread thread;
  };
  std::string name_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace reitunnel::runtime
