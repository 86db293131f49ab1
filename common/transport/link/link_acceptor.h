#pragma once

// The server's side of the transport factory: what an accepted agent-port
// connection becomes before the Reitunnel handshake runs over it. Each
// listener is configured with one spec:
//
//   --listen       TCP, or TLS when the server has --tls-cert
//   --ws-listen    WebSocket over TCP, or over TLS (wss) with --tls-cert
//
// The caller bounds the whole exchange (its deadline closes `conn`).

#include <openssl/ssl.h>

#include <memory>
#include <optional>
#include <string>

#include "asio/awaitable.hpp"
#include "common/net/conn.h"
#include "common/transport/stream.h"
#include "common/transport/tls/peer_certificate.h"
#include "common/transport/ws/ws_handshake.h"

namespace reitunnel::transport {

struct LinkAcceptSpec {
  // Server TLS context (null: plain). Held by the caller for the call.
  SSL_CTX* tls = nullptr;
  bool websocket = false;
  WsServerOptions ws;
};

struct AcceptedLink {
  std::shared_ptr<Stream> stream;
  // The client certificate, when TLS asked for one and got it.
  std::optional<PeerCertificate> peer_certificate;
  // WebSocket: the upgrade request's X-Forwarded-For, untrusted (logs only).
  std::string forwarded_for;
};

// Throws std::system_error (TLS errors, TransportError for a refused or
// malformed upgrade after the HTTP error answer went out, EOF).
asio::awaitable<AcceptedLink> AcceptLink(std::shared_ptr<net::Conn> conn,
                                         const LinkAcceptSpec& spec);

}  // namespace reitunnel::transport
