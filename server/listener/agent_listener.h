#pragma once

// The agent port: one listening socket per worker (a SO_REUSEPORT group),
// each accepting in batches on its own worker. Admission decides before any
// byte is read; the handshake runs on the accepting worker.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "asio/awaitable.hpp"
#include "asio/ip/tcp.hpp"
#include "server/handshake/handshake.h"
#include "server/listener/accept_group.h"
#include "server/listener/admission.h"

namespace reitunnel::server {

class AgentListener {
 public:
  AgentListener(HandshakeEnv env, Admission* admission);

  // Binds `ep` on every worker and starts accepting.
  absl::Status Listen(const asio::ip::tcp::endpoint& ep) { return group_.Listen(ep); }
  // Stops accepting (each worker closes its socket). Established sessions
  // and handshakes in progress are not touched.
  void Close() { group_.Close(); }
  // "ip:port" actually bound.
  const std::string& address() const { return group_.address(); }
  uint16_t port() const { return group_.port(); }

 private:
  void Accepted(int worker, asio::ip::tcp::socket socket, std::string peer);

  HandshakeEnv env_;
  Admission* admission_;
  AcceptGroup group_;
};

}  // namespace reitunnel::server
