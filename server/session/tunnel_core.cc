#include "server/session/tunnel_core.h"

namespace reitunnel::server {

TunnelCore::TunnelCore(TunnelInfo info, int workers) : info_(std::move(info)), slots_(workers) {}

TunnelTotals TunnelCore::Totals() const {
  TunnelTotals t;
  for (const auto& s : slots_) {
    t.bytes_in += s.relay.plain_to_link.Get();
    t.bytes_out += s.relay.link_to_plain.Get();
    t.events_in += s.relay.plain_to_link_events.Get();
    t.events_out += s.relay.link_to_plain_events.Get();
    t.visitors_opened += s.visitors_opened.Get();
    t.visitors_closed += s.visitors_closed.Get();
    t.datagrams_dropped += s.datagrams_dropped.Get();
  }
  return t;
}

}  // namespace reitunnel::server
