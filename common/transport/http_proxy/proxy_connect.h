#pragma once

// HTTP CONNECT through a proxy (RFC 9110 9.3.6): after ProxyConnect the
// stream carries raw bytes to target_host:target_port, ready for TLS, a
// WebSocket handshake or the TCP link itself.

#include <chrono>
#include <cstdint>
#include <string>

#include "asio/awaitable.hpp"
#include "common/transport/http_proxy/connect_message.h"
#include "common/transport/stream.h"

namespace reitunnel::transport {

struct ProxyConnectOptions {
  std::chrono::milliseconds timeout{10000};
  size_t max_response_head = 8192;
};

// Sends CONNECT with Host (and Proxy-Authorization: Basic when `creds` is
// set), reads the answer head and accepts any 2xx. Returns the bytes that
// followed the answer head (tunnel data already; usually empty): feed them
// to the next layer with http1::WithPrefix, or treat them as an error where
// the next layer reads the socket itself (TLS via net::Conn).
// Throws std::system_error:
//   TransportError::kProxyAuthRequired  407, or 401 from proxies that use it
//                                       ("proxy authentication required")
//   TransportError::kProxyRefused       other statuses (status line quoted)
//   TransportError::kProtocolError      a malformed answer
//   TransportError::kTooLarge           answer head over the bound
//   asio::error::timed_out / eof / the stream's own errors.
// Credentials never appear in messages.
asio::awaitable<std::string> ProxyConnect(Stream& proxy_conn, const std::string& target_host,
                                          uint16_t target_port, const ProxyCredentials* creds,
                                          ProxyConnectOptions options = {});

}  // namespace reitunnel::transport
