#pragma once

// Process set-up shared by reitunneld and reitunnel.

#include <optional>
#include <string>
#include <vector>

#include "reitunnel/config/v1/common.pb.h"

namespace reitunnel::process {

// --help / -h prints `usage`, --version prints "<program> <version>"; both
// mean "exit 0". nullopt: neither was given.
std::optional<int> HandleInfoFlags(const std::vector<std::string>& args, const char* program,
                                   const std::string& usage);

// Applies the (validated) log config and routes libprotobuf's own log lines
// through it (RouteProtobufLogs), ignores SIGPIPE (peers vanish; writes
// report EPIPE instead) and raises the fd soft limit to the hard limit: each
// visitor costs two sockets, and 1024 would cap a busy tunnel early.
void Setup(const config::v1::LogConfig& log);

}  // namespace reitunnel::process
