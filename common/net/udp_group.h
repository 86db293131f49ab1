#pragma once

// A UDP port bound once per worker as a SO_REUSEPORT group, after a probe
// bind without SO_REUSEPORT proved nobody else holds it (as ListenGroup does
// for TCP). The kernel picks the socket by the sender's address, so a UDP
// flow (one visitor address) stays on one worker.

#include <vector>

#include "absl/status/statusor.h"
#include "asio/any_io_executor.hpp"
#include "asio/ip/udp.hpp"

namespace reitunnel::net {

// One non-blocking socket per executor, bound to `ep`. AlreadyExists when
// the port is taken.
absl::StatusOr<std::vector<asio::ip::udp::socket>> UdpGroup(
    const asio::ip::udp::endpoint& ep, const std::vector<asio::any_io_executor>& executors);

}  // namespace reitunnel::net
