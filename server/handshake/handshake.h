#pragma once

// The handshake of one accepted agent-port connection, on the worker that
// accepted it: the listener's transport (TLS if configured, then the
// WebSocket upgrade on the --ws-listen port), Challenge, Hello, then either
//  - a data connection: proven with its session's key and handed to the
//    session's shard on this worker, or
//  - a control connection: authenticated, checked (throttle, drain, bans,
//    limits, OnClientConnect) and turned into an AgentSession whose home is
//    this worker.
// Every wait runs under one deadline; every refusal is a Refused frame with
// a reason the agent can print, logged without flooding.

#include <memory>
#include <string>
#include <vector>

#include "asio/awaitable.hpp"
#include "asio/ip/tcp.hpp"
#include "common/net/tls.h"
#include "reitunnel/config/v1/server.pb.h"
#include "server/listener/admission.h"
#include "server/session/session_deps.h"

namespace reitunnel::server {

class AuthThrottle;
class Authenticator;
class RejectLog;
class TlsContext;

struct HandshakeEnv {
  const config::v1::ServerConfig* cfg = nullptr;  // timeouts, limits
  TlsContext* tls = nullptr;                      // null: plain TCP
  // The listener's transport above TCP/TLS: a WebSocket upgrade of `ws_path`
  // (--ws-listen), run inside the handshake deadline.
  bool websocket = false;
  std::string ws_path;
  const Authenticator* auth = nullptr;
  AuthThrottle* throttle = nullptr;
  RejectLog* rejects = nullptr;
  SessionDeps session;
  // Protocol features this server speaks (Welcome.features ∩ Hello.features).
  std::vector<std::string> features;
};

// Brings the accepted socket up to the listener's transport, then runs the
// handshake over it as a transport::Stream (so control and data connections
// work the same over TCP, TLS, ws and wss).
asio::awaitable<void> ServeAgentConnection(const HandshakeEnv& env, int worker,
                                           asio::ip::tcp::socket socket, std::string peer,
                                           Admission::Ticket ticket);

// "1.2.3.4" of "1.2.3.4:5678", "::1" of "[::1]:5678".
std::string IpOf(const std::string& peer);

}  // namespace reitunnel::server
