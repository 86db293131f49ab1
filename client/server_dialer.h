#pragma once

// The agent's only dialer of the server, for the control session and every
// data link alike: the --server address (HOST:PORT, ws://, wss://), TLS
// when configured (always for wss://), and an HTTP CONNECT proxy from
// --proxy or the environment (curl's rules, see proxy_select.h), stacked by
// transport::DialLink under one deadline.

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "asio/awaitable.hpp"
#include "common/transport/http_proxy/proxy_select.h"
#include "common/transport/link/link_dialer.h"
#include "common/transport/stream.h"
#include "reitunnel/config/v1/agent.pb.h"

namespace reitunnel::client {

// How the agent reaches the server: the DialLink spec without a TLS
// context, and a description for logs ("wss://h:443/reitunnel via
// http://user:***@proxy:3128 (HTTPS_PROXY)"). Errors name the flag or
// variable at fault, never a credential.
struct ServerLink {
  transport::LinkDialSpec spec;
  std::string description;
};
absl::StatusOr<ServerLink> PlanServerLink(const config::v1::AgentConfig& cfg,
                                          const transport::ProxyEnv& env);

class ServerDialer {
 public:
  // `tls` may be null (plain TCP, ws://). The proxy comes from the process
  // environment; main() checks PlanServerLink first, so a bad variable
  // stops the agent at start instead of failing every dial here.
  ServerDialer(const config::v1::AgentConfig& cfg, SSL_CTX* tls);

  // Throws std::system_error with the real cause (connection_refused at
  // once, timed_out at the deadline, proxy and upgrade refusals).
  asio::awaitable<std::shared_ptr<transport::Stream>> Dial() const;

  const std::string& address() const { return address_; }

 private:
  std::string address_;
  transport::LinkDialSpec spec_;
  bool ok_ = false;
  std::string error_;
};

}  // namespace reitunnel::client
