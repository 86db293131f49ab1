#pragma once

#include <string>
#include <vector>

#include "reitunnel/config/v1/server.pb.h"

namespace reitunnel::server {

// One warning per listener that is reachable beyond this host without TLS:
// the agent port (agents prove the token, but traffic and metadata travel in
// clear), the admin API (its bearer token travels in clear) and metrics. The
// daemon logs each once at start.
std::vector<std::string> ExposureWarnings(const config::v1::ServerConfig& cfg);

// True for a host that only this machine can reach (127.0.0.0/8, ::1,
// "localhost").
bool IsLoopbackHost(const std::string& host);

}  // namespace reitunnel::server
