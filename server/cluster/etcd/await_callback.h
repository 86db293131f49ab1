#pragma once

// Turns a callback-style asynchronous operation into an asio awaitable.
//
//   absl::StatusOr<X> r = co_await AwaitCallback<absl::StatusOr<X>>(
//       [&](absl::AnyInvocable<void(absl::StatusOr<X>)> done) { StartIt(std::move(done)); });
//
// `done` may run on any thread (gRPC's); the coroutine always resumes through
// asio::post on its own executor, never inline, and the executor is kept busy
// (outstanding work) until then so io_context::run() does not return early.

#include <utility>

#include "absl/functional/any_invocable.h"
#include "asio/associated_executor.hpp"
#include "asio/async_result.hpp"
#include "asio/awaitable.hpp"
#include "asio/executor_work_guard.hpp"
#include "asio/post.hpp"
#include "asio/use_awaitable.hpp"

namespace reitunnel::cluster::etcd {

template <typename T, typename Start>
asio::awaitable<T> AwaitCallback(Start start) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(
      [](auto handler, Start start) {
        auto executor = asio::get_associated_executor(handler);
        auto work = asio::make_work_guard(executor);
        start(absl::AnyInvocable<void(T)>(
            [handler = std::move(handler), work = std::move(work)](T result) mutable {
              auto ex = work.get_executor();
              asio::post(ex, [handler = std::move(handler), result = std::move(result),
                              work = std::move(work)]() mutable {
                std::move(handler)(std::move(result));
              });
            }));
      },
      asio::use_awaitable, std::move(start));
}

}  // namespace reitunnel::cluster::etcd
