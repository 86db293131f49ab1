#pragma once

// Connections to the server for the control session and data links: TCP,
// then TLS when configured, all under one deadline.

#include <chrono>
#include <memory>
#include <string>

#include "asio/awaitable.hpp"
#include "common/net/conn.h"
#include "common/net/tls.h"
#include "reitunnel/config/v1/agent.pb.h"

namespace reitunnel::client {

class ServerDialer {
 public:
  // `tls` may be null (plain TCP).
  ServerDialer(const config::v1::AgentConfig& cfg, SSL_CTX* tls);

  // Throws std::system_error with the real cause (connection_refused at
  // once, timed_out at the deadline).
  asio::awaitable<std::shared_ptr<net::Conn>> Dial() const;

  const std::string& address() const { return address_; }

 private:
  std::string host_;
  uint16_t port_ = 0;
  std::string server_name_;
  std::string address_;
  SSL_CTX* tls_;
  std::chrono::milliseconds timeout_;
};

}  // namespace reitunnel::client
