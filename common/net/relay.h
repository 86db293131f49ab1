#pragma once

// Relays between a plain TCP connection (a visitor on the server, the local
// service on the agent) and a data connection to the other side.
//
// Two shapes:
//  - FramedRelay (framed_relay.h): the data connection carries chunks and an
//    in-band end of stream per direction, so it survives the visitor and goes
//    back to the pool. Used with agents that announce it in Hello.
//  - Relay (here): the data connection carries raw bytes and half-close is
//    the connection's own FIN; it is closed afterwards. Used with older
//    agents.
// Both honour half-close: when one side finishes sending, the other side's
// send direction is shut and the opposite direction keeps flowing. Plain TCP
// on both ends moves bytes with splice(2); TLS or WebSocket copies.

#include <cstdint>

#include "asio/awaitable.hpp"
#include "common/net/conn.h"
#include "common/net/counter.h"

namespace reitunnel::net {

// Written by the relay's thread only; readable from any thread, so live
// totals need no lock and no hop to the relay's worker.
struct RelayCounters {
  Counter plain_to_link;  // bytes
  Counter link_to_plain;
  Counter plain_to_link_events;  // reads that moved bytes ("data events")
  Counter link_to_plain_events;
};

// Up to two counter sets updated together (e.g. the visitor's and its
// tunnel's share on this worker); null entries are skipped.
struct RelaySinks {
  RelayCounters* a = nullptr;
  RelayCounters* b = nullptr;
  void ToLink(uint64_t n) const {
    if (a) a->plain_to_link.Add(n), a->plain_to_link_events.Add(1);
    if (b) b->plain_to_link.Add(n), b->plain_to_link_events.Add(1);
  }
  void FromLink(uint64_t n, uint64_t events) const {
    if (a) a->link_to_plain.Add(n), a->link_to_plain_events.Add(events);
    if (b) b->link_to_plain.Add(n), b->link_to_plain_events.Add(events);
  }
};

// Raw relay; closes both connections when done. `plain` must be plain TCP;
// `link` may be TCP or TLS.
asio::awaitable<void> Relay(Conn& plain, Conn& link, RelaySinks sinks);

}  // namespace reitunnel::net
