#pragma once

// The OpenTunnel fields of an http or tls tunnel: kind, hostname and the
// HTTP options, with a basic-auth password reduced to its SHA-256 so the
// password itself never leaves the agent.

#include "reitunnel/config/v1/agent.pb.h"
#include "reitunnel/wire/v1/wire.pb.h"

namespace reitunnel::client {

// `t.kind()` is "http" or "tls" (validated config).
void FillRoutedRequest(const config::v1::TunnelConfig& t, wire::v1::OpenTunnel* out);

}  // namespace reitunnel::client
