#pragma once

// UDP datagrams over a reusable data connection ("link"): the framed relay's
// chunk format (framed_relay.h) with one datagram per chunk, so datagram
// boundaries survive the TCP link. A flow ends like a framed relay: each
// direction sends the end-of-stream terminator (or a reset) once, after which
// the link is idle again. An empty datagram is not carried (its length would
// read as the terminator); UDP services do not rely on them.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "asio/awaitable.hpp"
#include "common/net/buffered_stream.h"

namespace reitunnel::net {

// The largest UDP payload over IPv4 (65535 - 8 - 20); anything longer on the
// link is a protocol error.
inline constexpr size_t kMaxDatagram = 65507;

// Writes one datagram as one chunk (header and bytes in one write). `d` must
// be 1..kMaxDatagram bytes.
asio::awaitable<void> WriteDatagram(BufferedStream& link, std::string_view d);
// Writes the terminator: end of stream, or with `reset` a failure.
asio::awaitable<void> WriteDatagramEnd(BufferedStream& link, bool reset = false);

// The next datagram, or nullopt at the peer's terminator (*reset tells
// which). Throws ProtocolError for an oversized chunk, std::system_error when
// the link fails or closes.
asio::awaitable<std::optional<std::string>> ReadDatagram(BufferedStream& link, bool* reset);

}  // namespace reitunnel::net
