#pragma once

// A listening port bound once per worker (a SO_REUSEPORT group, net::
// ListenGroup), each socket accepting in batches on its own worker. The
// agent port and the routed (http, tls) listeners are one of these with
// their own handling of an accepted connection.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "asio/awaitable.hpp"
#include "asio/ip/tcp.hpp"

namespace reitunnel::runtime {
class WorkerPool;
}

namespace reitunnel::server {

class AcceptGroup {
 public:
  // Runs on the accepting worker; the socket closes if it is not taken.
  using OnAccept = std::function<void(int worker, asio::ip::tcp::socket, std::string peer)>;
  // A failed accept (EMFILE, ...); the loop backs off 50 ms and goes on.
  using OnError = std::function<void(const asio::error_code&)>;

  AcceptGroup(runtime::WorkerPool* workers, const char* name, OnAccept on_accept,
              OnError on_error);

  // Binds `ep` on every worker and starts accepting.
  absl::Status Listen(const asio::ip::tcp::endpoint& ep);
  // Stops accepting (each worker closes its socket); accepted connections
  // are not touched.
  void Close();
  // "ip:port" actually bound.
  const std::string& address() const { return address_; }
  uint16_t port() const { return port_; }

 private:
  asio::awaitable<void> AcceptLoop(int worker, std::shared_ptr<asio::ip::tcp::acceptor> acc);

  runtime::WorkerPool* workers_;
  const char* name_;
  OnAccept on_accept_;
  OnError on_error_;
  std::vector<std::shared_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::string address_;
  uint16_t port_ = 0;
};

}  // namespace reitunnel::server
