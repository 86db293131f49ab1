#pragma once

#include <chrono>
#include <string>

#include "asio/awaitable.hpp"
#include "asio/ip/tcp.hpp"

namespace reitunnel::net {

// Resolves host:port and connects to the first address that answers, all
// within `timeout`. Throws std::system_error with the real cause as soon as
// it is known (connection_refused at once, not after the timeout), and
// timed_out when the deadline passes.
asio::awaitable<asio::ip::tcp::socket> Dial(const std::string& host, uint16_t port,
                                            std::chrono::milliseconds timeout);

}  // namespace reitunnel::net
