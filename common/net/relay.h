#pragma once

// Bidirectional byte relay between two connections, honouring half-close:
// when one side finishes sending, the other side's send direction is shut
// and the opposite direction keeps flowing until it finishes too.
//
// Plain TCP on both sides relays with splice(2) through a pipe, so bytes never
// enter user space; TLS on either side falls back to a buffered copy.

#include <cstdint>

#include "asio/awaitable.hpp"
#include "common/net/conn.h"

namespace reitunnel::net {

struct RelayCounters {
  uint64_t a_to_b = 0;
  uint64_t b_to_a = 0;
  // Reads that moved bytes, per direction ("data events" for hooks).
  uint64_t a_to_b_events = 0;
  uint64_t b_to_a_events = 0;
};

// Returns when both directions are done or either side fails; then both
// connections are closed. `counters` is updated as bytes move (it must outlive
// the relay) so live totals can be read while the relay runs.
asio::awaitable<void> Relay(Conn& a, Conn& b, RelayCounters* counters);

}  // namespace reitunnel::net
