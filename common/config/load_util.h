#pragma once

// Pieces shared by LoadServerConfig and LoadAgentConfig. Internal to
// reitunnel_config.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/config/flags.h"
#include "reitunnel/config/v1/common.pb.h"

namespace reitunnel::config::internal {

inline constexpr char kTokenEnv[] = "REITUNNEL_TOKEN";

// Tells errors where a setting came from, so the message points at what the
// user typed: the flag when it was given, else the config file key.
class Origins {
 public:
  Origins(const FlagSet& flags, std::string config_path)
      : flags_(flags), config_path_(std::move(config_path)) {}

  // `--listen="bad": <problem>` (the value is echoed only when `echo`, and
  // never for secrets), or `server.yaml: listen: <problem>`.
  absl::Status Error(std::string_view flag, std::string_view key, const std::string& value,
                     bool echo, absl::string_view problem) const;
  // `server.yaml: <key>: <problem>` regardless of flags; `key` may be empty.
  absl::Status FileError(std::string_view key, absl::string_view problem) const;
  // "--tls-key" if given on the command line, else "tls.key_file".
  std::string Name(std::string_view flag, std::string_view key) const;

  const std::string& config_path() const { return config_path_; }

 private:
  const FlagSet& flags_;
  std::string config_path_;
};

// "..." with C escapes, for echoing non-secret flag values.
std::string Quote(std::string_view s);

// --token beats REITUNNEL_TOKEN beats the file. Leaves `token` as is when
// neither flag nor environment set it.
absl::Status ResolveToken(const FlagSet& flags, std::string* token);
absl::Status CheckToken(const std::string& token);

// --log-level/--log-format over the file, then defaults (info, text), then
// validation.
absl::Status ResolveLog(const FlagSet& flags, const Origins& origins,
                        reitunnel::config::v1::LogConfig* log);

}  // namespace reitunnel::config::internal
