#pragma once

// HTTP Basic authentication (RFC 7617) for a routed tunnel's first request.
// Only digests are kept and compared, in constant time, so neither the
// configured password nor a guess's closeness leaks through memory dumps or
// timing.

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "common/http/request_head.h"

namespace reitunnel::http {

class BasicAuth {
 public:
  static BasicAuth WithPassword(std::string_view user, std::string_view password);
  // `sha256_hex`: 64 hex digits, SHA-256 of the password (as `sha256sum`
  // prints it), so configuration files need not hold the password itself.
  static absl::StatusOr<BasicAuth> WithPasswordSha256Hex(std::string_view user,
                                                         std::string_view sha256_hex);

  // True when `head` has exactly one Authorization field carrying Basic
  // credentials for this user and password.
  bool Check(const RequestHead& head) const;
  // The comparison itself; Check's parsing is separate so it can be tested.
  bool Matches(std::string_view user, std::string_view password) const;

 private:
  BasicAuth(std::string user_digest, std::string password_digest)
      : user_digest_(std::move(user_digest)), password_digest_(std::move(password_digest)) {}

  std::string user_digest_;      // SHA-256, 32 bytes
  std::string password_digest_;  // SHA-256, 32 bytes
};

// Splits an Authorization value "Basic <base64(user:pass)>" (scheme
// case-insensitive). False when it is not well-formed Basic credentials.
bool ParseBasicCredentials(std::string_view authorization, std::string* user,
                           std::string* password);

}  // namespace reitunnel::http
