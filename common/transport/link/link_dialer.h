#pragma once

// The agent's side of the transport factory: one connection to the server,
// stacked from what the --server address and the proxy choice say:
//
//   TCP ─┬─ [HTTP CONNECT through a proxy] ─┬─ [TLS] ─┬─ [WebSocket]
//        server or proxy address                       ws:// or wss://
//
//   HOST:PORT          TCP, or TLS with --tls (splice works on plain TCP)
//   ws://HOST/PATH     WebSocket over TCP
//   wss://HOST/PATH    WebSocket over TLS
//
// A later transport (QUIC) is one more scheme and one more branch here.

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "asio/awaitable.hpp"
#include "common/transport/stream.h"
#include "common/transport/url/proxy_url.h"
#include "common/transport/url/server_address.h"

namespace reitunnel::transport {

struct LinkDialSpec {
  url::ServerAddress server;
  // Through this HTTP proxy (CONNECT) when set.
  std::optional<url::ProxyUrl> proxy;
  // TLS (HOST:PORT with --tls, and always for wss://); must be null for ws://.
  SSL_CTX* tls = nullptr;
  // Checked against the server certificate; default: server.host.
  std::string tls_server_name;
  // Bounds the whole dial: TCP connect, CONNECT, TLS and the upgrade.
  std::chrono::milliseconds timeout{5000};
  // WebSocket: a Ping after this long without sending (0: none), so
  // intermediaries with idle timeouts keep a quiet link open.
  std::chrono::milliseconds ws_ping_interval{0};
};

// Throws std::system_error: the TCP connect's own errors (connection_refused
// at once), TransportError (proxy refused or wants credentials, upgrade
// rejected), a TLS error, or timed_out at the deadline. Messages never hold
// credentials.
asio::awaitable<std::shared_ptr<Stream>> DialLink(const LinkDialSpec& spec);

}  // namespace reitunnel::transport
