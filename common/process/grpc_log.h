#pragma once

// gRPC core writes its own log lines to stderr ("E1201 12:00:00.000 ...
// ssl_transport_security.cc:1234] Handshake failed ..."), which bypass
// --log-format=json. This sends them through reitunnel::log instead, so every
// line of a daemon has one format.
//
// Separate from startup.h: only the processes that link gRPC (reitunneld,
// reitunnelctl) need it, and the agent must not pull gRPC in.

namespace reitunnel::process {

// Routes gRPC's log lines to reitunnel::log as event "grpc_core", message as
// gRPC wrote it, fields `file` (base name) and `line`; gRPC's DEBUG, INFO and
// ERROR map to debug, info and error. gRPC's own filter still applies first:
// errors only unless GRPC_VERBOSITY says otherwise (then --log-level too
// must let the lines through). Call once at start, after process::Setup.
void RouteGrpcLogs();

}  // namespace reitunnel::process
