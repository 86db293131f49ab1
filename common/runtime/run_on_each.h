#pragma once

// Runs a function on each of several executors (other workers) and resumes
// the calling coroutine on its own executor once all have run. The fan-out
// and fan-in are posts; nothing blocks.

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "asio/any_io_executor.hpp"
#include "asio/async_result.hpp"
#include "asio/awaitable.hpp"
#include "asio/post.hpp"
#include "asio/this_coro.hpp"
#include "asio/use_awaitable.hpp"

namespace reitunnel::runtime {

// fn(i) runs on targets[i]'s thread.
inline asio::awaitable<void> RunOnEach(std::vector<asio::any_io_executor> targets,
                                       std::function<void(size_t)> fn) {
  auto home = co_await asio::this_coro::executor;
  if (targets.empty()) co_return;
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      [&targets, &fn, home](auto handler) {
        using Handler = decltype(handler);
        struct State {
          explicit State(Handler h) : handler(std::move(h)) {}
          Handler handler;
          std::atomic<size_t> remaining{0};
        };
        auto state = std::make_shared<State>(std::move(handler));
        state->remaining = targets.size();
        auto shared_fn = std::make_shared<std::function<void(size_t)>>(fn);
        for (size_t i = 0; i < targets.size(); ++i) {
          asio::post(targets[i], [state, shared_fn, i, home] {
            (*shared_fn)(i);
            if (state->remaining.fetch_sub(1) == 1) {
              asio::post(home, [state]() mutable { std::move(state->handler)(); });
            }
          });
        }
      },
      asio::use_awaitable);
}

}  // namespace reitunnel::runtime
