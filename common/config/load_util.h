#pragma once

// Pieces shared by LoadServerConfig and LoadAgentConfig. Internal to
// reitunnel_config.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/config/flags.h"
#include "reitunnel/config/v1/common.pb.h"

namespace reitunnel::config::internal {

inline constexpr char kTokenEnv[] = "REITUNNEL_TOKEN";
inline constexpr char kAdminTokenEnv[] = "REITUNNEL_ADMIN_TOKEN";

// Tokens travel in a Hello frame (16 KiB at most) and, for the admin token,
// in gRPC metadata (8 KiB by default, for all headers together); a longer one
// would fail every connection, so it is refused at start.
inline constexpr std::size_t kMaxTokenBytes = 1024;
// Below this a token can be guessed; it is accepted, with a warning.
inline constexpr std::size_t kMinTokenBytes = 16;

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

// A secret setting: its flag, environment variable and config file key.
struct SecretSetting {
  std::string_view flag;  // "token", without dashes
  const char* env;        // "REITUNNEL_TOKEN"
  std::string_view key;   // "token", "admin_api.token"
};
inline constexpr SecretSetting kToken{"token", kTokenEnv, "token"};
inline constexpr SecretSetting kAdminToken{"admin-token", kAdminTokenEnv, "admin_api.token"};

// --token beats REITUNNEL_TOKEN beats the file. Leaves `token` as is when
// neither flag nor environment set it.
absl::Status ResolveToken(const FlagSet& flags, std::string* token);
// Present and at most kMaxTokenBytes. Errors name where the token came from
// ("--token: too long (...)", "REITUNNEL_TOKEN: ...", "x.yaml: token: ..."),
// never the token.
absl::Status CheckToken(const std::string& token, const FlagSet& flags, const Origins& origins);
// At most kMaxTokenBytes (empty is allowed: callers decide what it means).
absl::Status CheckTokenLength(const std::string& token, const SecretSetting& setting,
                              const FlagSet& flags, const Origins& origins);

// A warning when `token` is too short or too blank to be secret, else
// nullopt. `what` names it: "the token". Never contains the token.
std::optional<std::string> WeakTokenWarning(std::string_view what, const std::string& token);

// --workers=N over the file's `workers`; N from 1 to 1024 (0 in the file:
// the default, the CPUs the process may use).
absl::Status ResolveWorkers(const FlagSet& flags, const Origins& origins, uint32_t* workers);

// --log-level/--log-format over the file, then defaults (info, text), then
// validation.
absl::Status ResolveLog(const FlagSet& flags, const Origins& origins,
                        reitunnel::config::v1::LogConfig* log);

}  // namespace reitunnel::config::internal
