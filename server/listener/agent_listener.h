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
#include "server/listener/admission.h"

namespace reitunnel::server {

class AgentListener {
 public:
  AgentListener(HandshakeEnv env, Admission* admission);

  // Binds `ep` on every worker and starts accepting.
  absl::Status Listen(const asio::ip::tcp::endpoint& ep);
  // Stops accepting (each worker closes its socket). Established sessions
  // and handshakes in progress are not touched.
  void Close();
  // "ip:port" actually bound.
  const std::string& address() const { return address_; }
  uint16_t port() const { return port_; }

 private:
  asio::awaitable<void> AcceptLoop(int worker, std::shared_ptr<asio::ip::tcp::acceptor> acc);
  void Accepted(int worker, asio::ip::tcp::socket socket, std::string peer);

  HandshakeEnv env_;
  Admission* admission_;
  std::vector<std::shared_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::string address_;
  uint16_t port_ = 0;
};

}  // namespace reitunnel::server
