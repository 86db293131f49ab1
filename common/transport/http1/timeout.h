#pragma once

// Runs an awaitable against a deadline: the operation is cancelled and
// asio::error::timed_out thrown when the timer wins; when the operation
// fails first, its own exception comes out at once.

#include <chrono>
#include <exception>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

#include "asio/awaitable.hpp"
#include "asio/error.hpp"
#include "asio/experimental/as_tuple.hpp"
#include "asio/experimental/awaitable_operators.hpp"
#include "asio/steady_timer.hpp"
#include "asio/this_coro.hpp"
#include "asio/use_awaitable.hpp"

namespace reitunnel::transport::http1 {

namespace internal {

// The operation's result or its exception, as a value: awaitable_operators'
// || waits for the first *success*, so an operation that throws would
// otherwise only be noticed when the timer fires.
template <typename T>
struct Outcome {
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  std::exception_ptr error;
};

template <typename T>
asio::awaitable<Outcome<T>> Capture(asio::awaitable<T> op) {
  Outcome<T> out;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(op);
      out.value = true;
    } else {
      out.value = co_await std::move(op);
    }
  } catch (...) {
    out.error = std::current_exception();
  }
  co_return out;
}

}  // namespace internal

template <typename T>
asio::awaitable<T> WithTimeout(asio::awaitable<T> op, std::chrono::milliseconds timeout,
                               const char* what) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  auto result = co_await (internal::Capture(std::move(op)) ||
                          timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable)));
  if (result.index() == 1) throw std::system_error(asio::error::timed_out, what);
  internal::Outcome<T>& out = std::get<0>(result);
  if (out.error) std::rethrow_exception(out.error);
  if constexpr (!std::is_void_v<T>) co_return std::move(*out.value);
}

}  // namespace reitunnel::transport::http1
