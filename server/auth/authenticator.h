#pragma once

// Verifies an agent's proof in its control Hello: HMAC-SHA256 over the
// server's fresh nonce, keyed with the agent's token. The token never
// crosses the wire; the comparison is constant-time.

#include <string>
#include <string_view>

#include "reitunnel/wire/v1/wire.pb.h"

namespace reitunnel::server {

class Authenticator {
 public:
  explicit Authenticator(std::string shared_token) : shared_token_(std::move(shared_token)) {}

  struct Result {
    bool ok = false;
    // The secret the session key is derived from.
    std::string key;
    // The agent id the agent gave (self-asserted with the shared token).
    std::string agent_id;
  };
  Result VerifyControl(const wire::v1::Hello& hello, std::string_view nonce) const;

 private:
  std::string shared_token_;
};

}  // namespace reitunnel::server
