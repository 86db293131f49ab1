#pragma once

// The agent's side of one UDP flow on a data link: a UDP socket connected to
// the tunnel's local service, datagrams relayed both ways (one per chunk,
// datagram_link.h) until the server ends the flow; then the agent ends its
// direction too and the link is reusable.

#include <cstdint>
#include <string>

#include "asio/awaitable.hpp"
#include "common/net/buffered_stream.h"
#include "common/net/framed_relay.h"

namespace reitunnel::client {

asio::awaitable<net::LinkState> RelayUdpFlow(net::BufferedStream& link, const std::string& host,
                                             uint16_t port, const std::string& tunnel_name);

}  // namespace reitunnel::client
