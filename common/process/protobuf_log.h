#pragma once

// libprotobuf writes its own lines to stderr ("[libprotobuf ERROR
// google/protobuf/wire_format_lite.cc:618] String field ... contains invalid
// UTF-8 data"), and a peer can trigger them with a malformed frame: they
// would bypass --log-format=json. This sends them through reitunnel::log.

namespace reitunnel::process {

// Routes libprotobuf's log lines to reitunnel::log as event "protobuf",
// fields `file` (base name) and `line`; WARNING maps to warn, ERROR and
// FATAL to error. Not thread-safe (protobuf's rule): call at start, before
// other threads run. process::Setup calls it.
void RouteProtobufLogs();

}  // namespace reitunnel::process
