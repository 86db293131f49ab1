#pragma once

// Opening handshakes that turn a connected Stream (TCP, TLS, a proxy
// tunnel) into a WsStream. Both bound the whole exchange by
// options.timeout and the HTTP head by options.max_*_head, and throw
// std::system_error on failure:
//   TransportError::kHandshakeRejected  not a 101 / not an acceptable request
//   TransportError::kProtocolError      malformed head or bad 101 answer
//   TransportError::kTooLarge           head over the bound
//   asio::error::timed_out, asio::error::eof, or the inner stream's errors.
// what() never holds header values (they may carry credentials).

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "asio/awaitable.hpp"
#include "common/transport/stream.h"
#include "common/transport/ws/handshake.h"
#include "common/transport/ws/ws_stream.h"

namespace reitunnel::transport {

struct WsClientOptions {
  // Host header: url::ServerAddress::HostHeader() ("example.com",
  // "example.com:8080", "[::1]:7000").
  std::string host_header;
  std::string path = "/reitunnel";
  // Offered in Sec-WebSocket-Protocol; empty offers none. A server may
  // answer without one; answering a different one fails the handshake.
  std::string subprotocol = std::string(ws::kSubprotocol);
  std::vector<std::pair<std::string, std::string>> extra_headers;
  std::chrono::milliseconds timeout{10000};
  size_t max_response_head = 8192;
  WsStreamOptions stream;
};

struct WsServerOptions {
  // Exact match on the request's path (the query is ignored); others: 404.
  std::string path = "/reitunnel";
  // Selected when the client offers it.
  std::string subprotocol = std::string(ws::kSubprotocol);
  // When set, a client that does not offer `subprotocol` gets 400.
  bool require_subprotocol = false;
  // Covers reading the request and writing the answer (the caller's
  // handshake timeout).
  std::chrono::milliseconds timeout{10000};
  size_t max_request_head = 8192;
  WsStreamOptions stream;
};

// Options are taken by value: the coroutine keeps its own copy, so a
// temporary argument cannot dangle.
asio::awaitable<std::shared_ptr<WsStream>> WsConnect(std::shared_ptr<Stream> inner,
                                                     WsClientOptions options);

// On a refused request the HTTP error answer (404, 400, 405, 426, 431, 505)
// is written and our sending side shut down before the throw; the caller
// closes `inner`. The returned stream's forwarded_for() holds the request's
// X-Forwarded-For for logging (never trust it).
asio::awaitable<std::shared_ptr<WsStream>> WsAccept(std::shared_ptr<Stream> inner,
                                                    WsServerOptions options);

}  // namespace reitunnel::transport
