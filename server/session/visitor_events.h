#pragma once

// The hook requests about one visitor (a TCP or routed connection, or a UDP
// flow), built the same way for every tunnel kind.

#include <chrono>
#include <string>

#include "common/net/relay.h"
#include "reitunnel/hook/v1/hook.pb.h"
#include "server/session/tunnel_core.h"

namespace reitunnel::server {

hook::v1::VisitorConnectRequest VisitorConnectRequestFor(const TunnelInfo& info,
                                                         const std::string& peer,
                                                         const std::string& visitor_id);

// bytes_received/sent from `counters` (plain_to_link is "received").
hook::v1::VisitorDisconnectRequest VisitorDisconnectRequestFor(
    const TunnelInfo& info, const std::string& peer, const std::string& visitor_id,
    const net::RelayCounters& counters, std::chrono::steady_clock::time_point started);

}  // namespace reitunnel::server
