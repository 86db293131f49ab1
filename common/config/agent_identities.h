#pragma once

// Validation of the server's `agents:` list (per-agent identities) and the
// WebSocket listener settings. Internal to reitunnel_config.

#include "absl/status/status.h"
#include "common/config/load_util.h"
#include "reitunnel/config/v1/server.pb.h"

namespace reitunnel::config::internal {

// 1-128 of [A-Za-z0-9_.@-]: agent ids name bans, logs and hook metadata.
bool IsValidAgentId(std::string_view id);

// Each entry: a valid unique id, exactly one of token_sha256 (64 hex
// digits, normalized to lower case here) and token_file, valid label keys,
// allowed_ports entries that parse and lie within public_ports. Errors use
// file paths ("agents[2].token_sha256: ...") and never quote a hash.
// Token files are read by the server, not here.
absl::Status ResolveAgents(const Origins& origins, config::v1::ServerConfig* cfg);

// --ws-listen over the file's ws_listen; ws_path defaulted ("/reitunnel")
// and checked when the listener is on.
absl::Status ResolveWebSocket(const FlagSet& fs, const Origins& origins,
                              config::v1::ServerConfig* cfg);

}  // namespace reitunnel::config::internal
