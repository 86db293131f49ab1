#pragma once

// The host[:port] part of an address or URL authority. Shared by the server
// address and proxy URL parsers.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace reitunnel::transport::url {

struct HostAndPort {
  std::string host;  // IPv6 literals without brackets
  std::optional<uint16_t> port;
};

// "name", "1.2.3.4", "[::1]", each optionally followed by ":PORT" (1..65535).
// Hostnames: letters, digits, '-', '.', '_', at most 253 characters. Errors
// describe the problem without quoting the input.
absl::StatusOr<HostAndPort> ParseHostAndPort(std::string_view s);

bool IsIpv6Literal(std::string_view s);
bool IsIpv4Literal(std::string_view s);

// "host:port" with brackets around IPv6 literals.
std::string JoinHostPort(std::string_view host, uint16_t port);
// The host as it appears in a URL or Host header: IPv6 in brackets.
std::string UrlHost(std::string_view host);

}  // namespace reitunnel::transport::url
