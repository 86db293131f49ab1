#pragma once

// The TLS transport: TLS on a TCP connection. OpenSSL runs inside net::Conn
// on the socket's fd (not as a Stream over a Stream) so that half-close is
// one close_notify while reads go on, and a connection keeps a single fd
// that a worker hand-over can move. It therefore stacks only directly on
// TCP, which is all the agent link needs: an HTTP CONNECT proxy leaves the
// same socket carrying the tunnel, and WebSocket stacks on top of TLS.
//
// Relays copy TLS bytes (splice_fd() is -1).

#include <openssl/ssl.h>

#include <string>

#include "asio/awaitable.hpp"
#include "common/net/conn.h"

namespace reitunnel::transport {

// Client side; `server_name` is sent as SNI and verified against the
// certificate (a host name or an IP address). Throws std::system_error.
asio::awaitable<void> TlsClientHandshake(net::Conn& conn, SSL_CTX* ctx,
                                         const std::string& server_name);
// Server side; with a client CA in `ctx`, the peer must present a
// certificate it signed (mTLS).
asio::awaitable<void> TlsServerHandshake(net::Conn& conn, SSL_CTX* ctx);

}  // namespace reitunnel::transport
