#pragma once

// Parsers for the small string formats used by flags and config values.
//
// Error messages describe the problem without echoing the input, so callers
// can use them for any value; a caller that knows the value is not secret may
// quote it itself.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "reitunnel/config/v1/agent.pb.h"
#include "reitunnel/config/v1/server.pb.h"

namespace reitunnel::config {

struct HostPort {
  std::string host;  // IPv6 literals without brackets: "::1"
  uint16_t port = 0;

  // "host:port", with brackets around IPv6 literals.
  std::string ToString() const;
};

// "127.0.0.1:7000", "[::1]:7000", "localhost:0". Port 0 is accepted (callers
// that need a real port check it); IPv6 literals need brackets.
absl::StatusOr<HostPort> ParseHostPort(std::string_view s);

// A host without a port: hostname, IPv4, or IPv6 with or without brackets.
// Returns it without brackets.
absl::StatusOr<std::string> ParseHost(std::string_view s);

struct PortRange {
  uint16_t low = 0;
  uint16_t high = 0;

  bool Contains(uint32_t p) const { return p >= low && p <= high; }
};

// "20000-20100" or "20080"; ports 1..65535, low <= high.
absl::StatusOr<PortRange> ParsePortRange(std::string_view s);

// "NAME=REMOTE_PORT:LOCAL_HOST:LOCAL_PORT", e.g. "web=20080:127.0.0.1:8080",
// "web=0:[::1]:8080". REMOTE_PORT 0..65535 (0: server picks), LOCAL_PORT
// 1..65535. local_addr keeps the text as given.
// NAME=REMOTE_PORT:LOCAL_HOST:LOCAL_PORT[,proxy_protocol=v1|v2], or a routed
// tunnel NAME=http:HOSTNAME:LOCAL_HOST:LOCAL_PORT (options also
// basic_auth=USER:PASSWORD, x_forwarded=true|false) or
// NAME=tls:HOSTNAME:LOCAL_HOST:LOCAL_PORT.
absl::StatusOr<reitunnel::config::v1::TunnelConfig> ParseTunnelSpec(std::string_view spec);
// A tunnel hostname: a DNS name or "*." followed by one.
absl::Status CheckTunnelHostname(std::string_view pattern);
// "", "v1" or "v2" (TunnelConfig.proxy_protocol).
absl::Status CheckProxyProtocolVersion(std::string_view v);

// "NAME=ADDRESS"; see ValidateHookAddress for ADDRESS.
absl::StatusOr<reitunnel::config::v1::HookConfig> ParseHookSpec(std::string_view s);

// gRPC target of a hook service: "host:port", "dns:///svc:port",
// "dns://authority/svc:port", "unix:///path", "unix:path",
// "unix-abstract:name", "ipv4:host:port[,...]", "ipv6:[addr]:port[,...]".
absl::Status ValidateHookAddress(std::string_view address);

// [A-Za-z0-9_.-]{1,64}
bool IsValidTunnelName(std::string_view name);
// Same rule as tunnel names: hook names end up in logs and metric labels.
bool IsValidHookName(std::string_view name);
// [A-Za-z0-9_./-]{1,128}: label keys become hook metadata keys.
bool IsValidLabelKey(std::string_view key);

}  // namespace reitunnel::config
