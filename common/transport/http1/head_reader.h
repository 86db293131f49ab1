#pragma once

// Reads one HTTP head from a Stream, bounded in size. The caller bounds the
// time (WithTimeout).

#include <cstddef>
#include <string>

#include "asio/awaitable.hpp"
#include "common/transport/stream.h"

namespace reitunnel::transport::http1 {

struct HeadAndRest {
  std::string head;  // through the blank line
  std::string rest;  // bytes read past the head: the next protocol's
};

// Throws std::system_error: TransportError::kTooLarge when no head ends
// within `max_bytes`, asio::error::eof when the stream ends first.
asio::awaitable<HeadAndRest> ReadHead(Stream& stream, size_t max_bytes);

}  // namespace reitunnel::transport::http1
