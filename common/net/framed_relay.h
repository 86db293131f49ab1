#pragma once

// The reusable data connection ("link"): while it relays one visitor, each
// direction is a sequence of chunks — a 4-byte big-endian length, then that
// many bytes — ended by exactly one terminator:
//
//   0x00000000  end of stream: the sender's source half-closed (a FIN)
//   0xFFFFFFFF  reset: the sender's source failed or was refused (an RST)
//
// Whoever receives a reset aborts its own plain side, which makes its own
// sending direction end with a reset too. Once both directions are
// terminated, the link carries nothing in flight and goes back to the pool
// for the next StartRelay: a new visitor costs no TCP or auth handshake.
//
// Chunks are spliced by count between plain TCP sockets (zero copy for bulk
// data); small reads are copied with the header in the same send().

#include <cstdint>
#include <string_view>

#include "asio/awaitable.hpp"
#include "common/net/buffered_stream.h"
#include "common/net/conn.h"
#include "common/net/relay.h"

namespace reitunnel::net {

inline constexpr uint32_t kChunkEnd = 0;
inline constexpr uint32_t kChunkReset = 0xFFFFFFFFu;
inline constexpr uint32_t kMaxChunk = 16u << 20;

enum class LinkState {
  // Both directions ended in-band; the link may carry the next visitor.
  kReusable,
  // The link failed or broke the protocol; it has been closed.
  kBroken,
};

struct FramedRelayOptions {
  // Read the plain side before waiting for it (a visitor's request is
  // usually already queued; a freshly dialed service usually waits for one).
  bool plain_read_first = true;
};

// Relays `plain` over `link` until both directions are terminated. `plain` is
// closed on return (with an RST if a reset was relayed). On kBroken, `link`
// is closed too.
asio::awaitable<LinkState> FramedRelay(Conn& plain, BufferedStream& link, RelaySinks sinks,
                                       FramedRelayOptions options = {});

// Refuses a relay that was just started (the agent could not reach its local
// service): sends a reset and consumes the other direction up to its
// terminator, so the link stays reusable.
asio::awaitable<LinkState> FramedReject(BufferedStream& link);

// Answers a relay that was just started in the local service's place (an
// HTTP tunnel whose service is unreachable answers 502): sends `reply` as
// the whole stream with an end of stream, so the visitor reads a response
// and a FIN instead of a reset, and consumes the other direction up to its
// terminator, so the link stays reusable.
asio::awaitable<LinkState> FramedAnswer(BufferedStream& link, std::string_view reply);

}  // namespace reitunnel::net
