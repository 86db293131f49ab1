#include "common/config/load_util.h"

#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace reitunnel::config::internal {
namespace {

absl::Status Invalid(const std::string& msg) { return absl::InvalidArgumentError(msg); }

}  // namespace

absl::Status Origins::Error(std::string_view flag, std::string_view key, const std::string& value,
                            bool echo, absl::string_view problem) const {
  if (flags_.IsSet(flag)) {
    // Built with StrCat rather than `"=" + ...`: GCC 12 at -O3 reports a
    // false -Wrestrict on the operator+ form (GCC PR 105651).
    std::string shown = echo ? absl::StrCat("=", Quote(value)) : std::string();
    return Invalid(absl::StrCat("--", std::string(flag), shown, ": ", problem));
  }
  return FileError(key, problem);
}

absl::Status Origins::FileError(std::string_view key, absl::string_view problem) const {
  std::string msg;
  if (!config_path_.empty()) absl::StrAppend(&msg, config_path_, ": ");
  // Keys come from the file (a map key is echoed as it was spelled): escaped,
  // so an error stays one line and cannot forge log lines.
  if (!key.empty()) {
    absl::StrAppend(&msg, absl::CEscape(absl::string_view(key.data(), key.size())), ": ");
  }
  absl::StrAppend(&msg, problem);
  return Invalid(msg);
}

std::string Origins::Name(std::string_view flag, std::string_view key) const {
  if (flags_.IsSet(flag)) return absl::StrCat("--", std::string(flag));
  return std::string(key);
}

std::string Quote(std::string_view s) {
  return absl::StrCat("\"", absl::CEscape(absl::string_view(s.data(), s.size())), "\"");
}

absl::Status ResolveToken(const FlagSet& flags, std::string* token) {
  if (flags.IsSet("token")) {
    if (flags.GetString("token").empty()) return Invalid("--token must not be empty");
    *token = flags.GetString("token");
    return absl::OkStatus();
  }
  if (const char* env = std::getenv(kTokenEnv); env != nullptr && *env != '\0') *token = env;
  return absl::OkStatus();
}

absl::Status CheckToken(const std::string& token, const FlagSet& flags, const Origins& origins) {
  if (token.empty()) {
    return Invalid(
        absl::StrCat("missing --token (or token: in the config file, or ", kTokenEnv, ")"));
  }
  return CheckTokenLength(token, kToken, flags, origins);
}

absl::Status CheckTokenLength(const std::string& token, const SecretSetting& setting,
                              const FlagSet& flags, const Origins& origins) {
  if (token.size() <= kMaxTokenBytes) return absl::OkStatus();
  const std::string problem =
      absl::StrCat("too long (", token.size(), " bytes; at most ", kMaxTokenBytes, ")");
  // The same precedence as the resolution: flag, then environment, then file.
  if (flags.IsSet(setting.flag)) return Invalid(absl::StrCat("--", std::string(setting.flag), ": ", problem));
  if (const char* env = std::getenv(setting.env); env != nullptr && *env != '\0') {
    return Invalid(absl::StrCat(setting.env, ": ", problem));
  }
  return origins.FileError(setting.key, problem);
}

std::optional<std::string> WeakTokenWarning(std::string_view what, const std::string& token) {
  constexpr char kAdvice[] =
      "use at least 16 random bytes (e.g. openssl rand -hex 16) so that it cannot be guessed";
  static_assert(kMinTokenBytes == 16, "kAdvice says 16");
  if (token.empty()) return std::nullopt;  // missing: an error elsewhere, or a default
  bool blank = true;
  for (char c : token) blank = blank && absl::ascii_isspace(static_cast<unsigned char>(c));
  if (blank) return absl::StrCat(std::string(what), " is only whitespace: ", kAdvice);
  if (token.size() < kMinTokenBytes) {
    return absl::StrCat(std::string(what), " is only ", token.size(), " bytes long: ", kAdvice);
  }
  return std::nullopt;
}

absl::Status ResolveLog(const FlagSet& flags, const Origins& origins,
                        reitunnel::config::v1::LogConfig* log) {
  if (flags.IsSet("log-level")) log->set_level(flags.GetString("log-level"));
  if (flags.IsSet("log-format")) log->set_format(flags.GetString("log-format"));
  if (log->level().empty()) log->set_level("info");
  if (log->format().empty()) log->set_format("text");
  const std::string& level = log->level();
  if (level != "debug" && level != "info" && level != "warn" && level != "error") {
    return origins.Error("log-level", "log.level", level, true,
                         "unknown log level (expected debug, info, warn or error)");
  }
  const std::string& format = log->format();
  if (format != "text" && format != "json") {
    return origins.Error("log-format", "log.format", format, true,
                         "unknown log format (expected text or json)");
  }
  return absl::OkStatus();
}

absl::Status ResolveWorkers(const FlagSet& flags, const Origins& origins, uint32_t* workers) {
  constexpr uint32_t kMaxWorkers = 1024;
  if (flags.IsSet("workers")) {
    const std::string& v = flags.GetString("workers");
    uint32_t n = 0;
    if (!absl::SimpleAtoi(v, &n) || n == 0 || n > kMaxWorkers) {
      return origins.Error("workers", "workers", v, true,
                           absl::StrCat("expected a number of worker threads from 1 to ",
                                        kMaxWorkers));
    }
    *workers = n;
  } else if (*workers > kMaxWorkers) {
    return origins.FileError("workers", absl::StrCat("at most ", kMaxWorkers));
  }
  return absl::OkStatus();
}

}  // namespace reitunnel::config::internal
