#pragma once

// The address a cluster replica announces to its peers for a listener it
// bound. Peers dial it, so a wildcard bind (0.0.0.0:7001 in a pod) would
// make them dial themselves: it is replaced by the address this host's name
// resolves to (a pod's IP in Kubernetes). Anything else is announced as
// given.

#include <functional>
#include <optional>
#include <string>

namespace reitunnel::server {

// The host's own address, numeric, for `family` (AF_INET or AF_UNSPEC);
// nullopt when it cannot be found.
using HostAddressResolver = std::function<std::optional<std::string>(int family)>;

// gethostname + getaddrinfo.
std::optional<std::string> ResolveOwnHostAddress(int family);

// "HOST:PORT" as bound -> what peers should dial. IPv6 results are
// bracketed. When the resolver finds nothing, the bound address is kept.
std::string AnnouncedAddress(const std::string& bound,
                             const HostAddressResolver& resolve = ResolveOwnHostAddress);

}  // namespace reitunnel::server
