#pragma once

// The agent's --server value: "HOST:PORT" (the TCP link, optionally TLS),
// "ws://HOST[:PORT][/PATH]" or "wss://HOST[:PORT][/PATH]".

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace reitunnel::transport::url {

inline constexpr std::string_view kDefaultWsPath = "/reitunnel";

enum class LinkScheme { kTcp, kWs, kWss };

struct ServerAddress {
  LinkScheme scheme = LinkScheme::kTcp;
  std::string host;  // IPv6 literals without brackets
  uint16_t port = 0;
  // ws/wss: the request target, "/reitunnel" when the URL has no path; a
  // query string is kept. Empty for kTcp.
  std::string path;

  bool is_websocket() const { return scheme != LinkScheme::kTcp; }
  // "host:port", IPv6 in brackets: for dialing and logs.
  std::string HostPort() const;
  // The Host header of the upgrade request: the port is left out when it is
  // the scheme's default (80 for ws, 443 for wss), as browsers and curl do.
  std::string HostHeader() const;
  // "tcp", "ws" or "wss".
  const char* scheme_name() const;
};

// Errors say what is wrong without quoting the value.
absl::StatusOr<ServerAddress> ParseServerAddress(std::string_view s);

}  // namespace reitunnel::transport::url
