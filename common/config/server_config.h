#pragma once

// reitunneld configuration: --config file, then REITUNNEL_TOKEN, then flags,
// then defaults, then validation.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config/config_file.h"
#include "reitunnel/config/v1/server.pb.h"

namespace reitunnel::config {

// `args` is argv[1..]. The result has every defaulted field filled in and has
// been validated, so consumers read values directly (listen/admin parse with
// ParseHostPort, public_ports with ParsePortRange, public_bind_addr is a bare
// host without brackets). Errors are InvalidArgument with one human line
// that never contains the token; --help/--version are the caller's.
absl::StatusOr<reitunnel::config::v1::ServerConfig> LoadServerConfig(
    const std::vector<std::string>& args);
// The same with the --config file read by `read` (tests, fuzzers).
absl::StatusOr<reitunnel::config::v1::ServerConfig> LoadServerConfig(
    const std::vector<std::string>& args, ConfigFileReader read);

// Problems worth a warning but not a refusal (a token too short to be
// secret), one line each, never containing a secret. reitunneld logs each
// once at start, after configuring the logger.
std::vector<std::string> ServerConfigWarnings(const reitunnel::config::v1::ServerConfig& cfg);

// The full --help text for reitunneld, ending in a newline.
std::string ServerUsage();

}  // namespace reitunnel::config
