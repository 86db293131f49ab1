#include "common/net/dial.h"

#include <system_error>

#include "asio/connect.hpp"
#include "asio/experimental/as_tuple.hpp"
#include "asio/this_coro.hpp"
#include "asio/use_awaitable.hpp"
#include "common/net/deadline.h"

namespace reitunnel::net {

using asio::experimental::as_tuple;
using asio::ip::tcp;

asio::awaitable<tcp::socket> Dial(const std::string& host, uint16_t port,
                                  std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket socket(ex);
  tcp::resolver resolver(ex);
  // The deadline cancels whatever is pending; the operation itself reports
  // its own failure (refused, unreachable) the moment it happens.
  Deadline deadline(ex, timeout, [&socket, &resolver] {
    resolver.cancel();
    asio::error_code ignored;
    socket.close(ignored);
  });
  asio::error_code ec;
  // IP literals (the common case for local services) skip the resolver,
  // which would hop to asio's resolver thread and back per connection.
  auto addr = asio::ip::make_address(host, ec);
  if (!ec) {
    std::tie(ec) =
        co_await socket.async_connect(tcp::endpoint(addr, port), as_tuple(asio::use_awaitable));
  } else {
    auto [rec, endpoints] =
        co_await resolver.async_resolve(host, std::to_string(port), as_tuple(asio::use_awaitable));
    ec = rec;
    if (!ec) {
      tcp::endpoint ep;
      std::tie(ec, ep) =
          co_await asio::async_connect(socket, endpoints, as_tuple(asio::use_awaitable));
    }
  }
  if (deadline.expired()) throw std::system_error(asio::error::timed_out);
  if (ec) throw std::system_error(ec);
  co_return std::move(socket);
}

}  // namespace reitunnel::net
