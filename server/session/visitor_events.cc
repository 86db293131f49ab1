#include "server/session/visitor_events.h"

namespace reitunnel::server {

namespace {

// The fields both requests share.
template <typename Request>
Request ForVisitor(const TunnelInfo& info, const std::string& peer, const std::string& visitor_id) {
  Request req;
  req.set_client_id(info.client_id);
  req.set_tunnel_id(info.tunnel_id);
  req.mutable_metadata()->insert(info.metadata.begin(), info.metadata.end());
  (*req.mutable_metadata())["visitor_addr"] = peer;
  req.set_visitor_addr(peer);
  req.set_visitor_id(visitor_id);
  return req;
}

}  // namespace

hook::v1::VisitorConnectRequest VisitorConnectRequestFor(const TunnelInfo& info,
                                                         const std::string& peer,
                                                         const std::string& visitor_id) {
  return ForVisitor<hook::v1::VisitorConnectRequest>(info, peer, visitor_id);
}

hook::v1::VisitorDisconnectRequest VisitorDisconnectRequestFor(
    const TunnelInfo& info, const std::string& peer, const std::string& visitor_id,
    const net::RelayCounters& counters, std::chrono::steady_clock::time_point started) {
  auto req = ForVisitor<hook::v1::VisitorDisconnectRequest>(info, peer, visitor_id);
  req.set_bytes_received(counters.plain_to_link.Get());
  req.set_bytes_sent(counters.link_to_plain.Get());
  req.set_duration_ms(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                            started)
          .count()));
  return req;
}

}  // namespace reitunnel::server
