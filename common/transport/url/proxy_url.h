#pragma once

// An HTTP proxy URL as curl reads it: "[http://][user[:password]@]HOST[:PORT][/...]".
// No scheme means http://; the port defaults to 1080 (curl's default for
// every proxy type but https); user and password are percent-decoded; a path
// is ignored. Only http:// proxies are supported.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace reitunnel::transport::url {

inline constexpr uint16_t kDefaultProxyPort = 1080;

struct ProxyCredentials {
  std::string user;
  std::string password;
};

struct ProxyUrl {
  std::string host;  // IPv6 literals without brackets
  uint16_t port = kDefaultProxyPort;
  std::optional<ProxyCredentials> credentials;

  std::string HostPort() const;
  // "http://host:port", with "user:***@" when there are credentials: the
  // only form fit for logs.
  std::string Redacted() const;
};

// Errors say what is wrong and never quote the input (it may hold a
// password). https:// and SOCKS proxies fail with "not supported".
absl::StatusOr<ProxyUrl> ParseProxyUrl(std::string_view s);

}  // namespace reitunnel::transport::url
