#include "common/net/dial.h"

#include <system_error>

#include "asio/connect.hpp"
#include "asio/experimental/as_tuple.hpp"
#include "asio/experimental/awaitable_operators.hpp"
#include "asio/steady_timer.hpp"
#include "asio/this_coro.hpp"
#include "asio/use_awaitable.hpp"

namespace reitunnel::net {

using namespace asio::experimental::awaitable_operators;
using asio::ip::tcp;

asio::awaitable<tcp::socket> Dial(const std::string& host, uint16_t port,
                                  std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket socket(ex);
  asio::steady_timer timer(ex, timeout);
  auto connect = [&]() -> asio::awaitable<void> {
    // IP literals (the common case for local services) skip the resolver,
    // which would hop to asio's resolver thread and back per connection.
    asio::error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (!ec) {
      co_await socket.async_connect(tcp::endpoint(addr, port), asio::use_awaitable);
      co_return;
    }
    tcp::resolver resolver(ex);
    auto endpoints = co_await resolver.async_resolve(host, std::to_string(port),
                                                     asio::use_awaitable);
    co_await asio::async_connect(socket, endpoints, asio::use_awaitable);
  };
  // as_tuple: the losing timer is cancelled on every successful connect, and
  // an exception per connection would be pure overhead.
  auto result =
      co_await (connect() || timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable)));
  if (result.index() == 1) throw std::system_error(asio::error::timed_out);
  co_return std::move(socket);
}

}  // namespace reitunnel::net
