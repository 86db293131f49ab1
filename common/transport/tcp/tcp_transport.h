#pragma once

// The plain TCP transport. net::Conn without TLS is its Stream: the only
// one whose splice_fd() is the socket, so relays move its bytes with
// splice(2) and never copy them through user space. Every other transport
// stacks on top of a connection made here.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "asio/awaitable.hpp"
#include "asio/ip/tcp.hpp"
#include "common/net/conn.h"

namespace reitunnel::transport {

// Resolves and connects within `timeout` (net::Dial: a refused connect
// throws at once with its real cause, the deadline throws timed_out).
asio::awaitable<std::shared_ptr<net::Conn>> DialTcp(const std::string& host, uint16_t port,
                                                    std::chrono::milliseconds timeout);

// An accepted socket as a Stream; `peer` comes from accept itself.
std::shared_ptr<net::Conn> AdoptTcp(asio::ip::tcp::socket socket, std::string peer);

}  // namespace reitunnel::transport
