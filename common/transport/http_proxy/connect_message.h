#pragma once

// The HTTP CONNECT exchange as pure functions (RFC 9110 9.3.6): the request
// we send a proxy and the check of its answer head. ProxyConnect
// (proxy_connect.h) drives them over a stream.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/transport/url/proxy_url.h"

namespace reitunnel::transport {

using url::ProxyCredentials;

// "CONNECT host:port HTTP/1.1" with Host, and Proxy-Authorization: Basic
// when `creds` is set.
std::string BuildConnectRequest(const std::string& target_host, uint16_t target_port,
                                const ProxyCredentials* creds);

// OK for 2xx. Otherwise: Unauthenticated for 407 (and 401, which some
// proxies send), PermissionDenied for other statuses (status line quoted),
// InvalidArgument for a malformed head. Never quotes header values.
absl::Status CheckConnectResponse(std::string_view head, const std::string& target,
                                  bool sent_credentials);

}  // namespace reitunnel::transport
