#pragma once

// co_spawn with a completion handler that logs escaped exceptions instead of
// swallowing them (asio::detached) or terminating.

#include <exception>
#include <string>
#include <utility>

#include "asio/co_spawn.hpp"

namespace reitunnel::net {

void LogCoroutineFailure(const char* what, std::exception_ptr e);

template <typename Executor, typename Awaitable>
void Spawn(Executor&& ex, Awaitable&& aw, const char* what) {
  asio::co_spawn(std::forward<Executor>(ex), std::forward<Awaitable>(aw),
                 [what](std::exception_ptr e) {
                   if (e) LogCoroutineFailure(what, e);
                 });
}

}  // namespace reitunnel::net
