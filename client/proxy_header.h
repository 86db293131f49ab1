#pragma once

#include <string>
#include <string_view>

#include "reitunnel/wire/v1/wire.pb.h"

namespace reitunnel::client {

// The PROXY protocol header a tunnel with proxy_protocol ("v1" or "v2")
// sends to its local service ahead of the visitor's bytes: the visitor's
// address to the public address it connected to, from StartRelay. An
// address the server sent that does not parse gives "PROXY UNKNOWN" (v1) or
// a LOCAL header (v2): the service then falls back to the connection's own
// endpoints instead of trusting a wrong one. "" when `version` is empty.
std::string ProxyHeaderFor(std::string_view version, const wire::v1::StartRelay& relay);

}  // namespace reitunnel::client
