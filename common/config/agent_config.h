#pragma once

// reitunnel (agent) configuration: --config file, then REITUNNEL_TOKEN, then
// flags, then defaults, then validation.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config/config_file.h"
#include "reitunnel/config/v1/agent.pb.h"

namespace reitunnel::config {

// `args` is argv[1..]. --tunnel flags replace the file's tunnels; --label
// flags merge over the file's labels. The result has every defaulted field
// filled in (tls.server_name defaults to the host of `server` when TLS is on)
// and has been validated. Errors are InvalidArgument with one human line that
// never contains the token; --help/--version are the caller's.
absl::StatusOr<reitunnel::config::v1::AgentConfig> LoadAgentConfig(
    const std::vector<std::string>& args);
// The same with the --config file read by `read` (tests, fuzzers).
absl::StatusOr<reitunnel::config::v1::AgentConfig> LoadAgentConfig(
    const std::vector<std::string>& args, ConfigFileReader read);

// Problems worth a warning but not a refusal (a token too short to be
// secret), one line each, never containing a secret. reitunnel logs each
// once at start, after configuring the logger.
std::vector<std::string> AgentConfigWarnings(const reitunnel::config::v1::AgentConfig& cfg);

// The full --help text for reitunnel, ending in a newline.
std::string AgentUsage();

}  // namespace reitunnel::config
