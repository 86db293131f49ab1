#pragma once

// Listening sockets for multi-worker servers. A port is bound once per
// worker as a SO_REUSEPORT group (the kernel spreads connections over the
// workers), but only after a probe bind without SO_REUSEPORT proved that
// nobody else holds it: a second process can never silently share a port.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "asio/ip/tcp.hpp"

namespace reitunnel::net {

// Opens, binds and listens one acceptor per executor on `ep` (port 0: the
// kernel picks one port for the whole group). address_in_use when the port
// is held by anyone else, including another SO_REUSEPORT process.
absl::StatusOr<std::vector<asio::ip::tcp::acceptor>> ListenGroup(
    const asio::ip::tcp::endpoint& ep, const std::vector<asio::any_io_executor>& executors);

// The error a plain listener on `ep` would get right now (none: free).
asio::error_code ProbeListen(const asio::ip::tcp::endpoint& ep);

// "ip:port" (IPv6 in brackets).
std::string EndpointString(const asio::ip::tcp::endpoint& ep);

// Waits until `acceptor` is readable, then accepts every pending connection
// (up to `max_batch`) with accept4(), taking the peer address from accept
// itself. Returns an error only for failures of the acceptor; per-connection
// failures such as EMFILE are returned too so the caller can back off.
using AcceptedFn = std::function<void(asio::ip::tcp::socket, std::string peer)>;
asio::awaitable<asio::error_code> AcceptBatch(asio::ip::tcp::acceptor& acceptor,
                                              asio::ip::tcp protocol, const AcceptedFn& accepted,
                                              int max_batch = 64);

}  // namespace reitunnel::net
