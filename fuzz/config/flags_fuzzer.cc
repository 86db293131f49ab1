// The flag parser on an arbitrary command line (the input split at '\n'),
// alone and through both daemons' loaders, checking that no error message
// ever contains a secret.
//
// Secrets are planted by the harness so it knows them: an argument "@" right
// after --token / --admin-token, the value "@" of --token=@ / --admin-token=@,
// a positional "@", the environment's tokens and the config file's tokens all
// become a marker that must appear in no error message.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "common/config/agent_config.h"
#include "common/config/flags.h"
#include "common/config/server_config.h"
#include "fuzz/config/config_fuzz.h"

namespace {


constexpr char kMarker[] = "Zq7mK2vX9secret";

std::vector<std::string> SplitArgs(std::string_view text) {
  std::vector<std::string> args;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    args.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return args;
}

bool IsSecretFlag(std::string_view arg) {
  return arg == "--token" || arg == "-token" || arg == "--admin-token" || arg == "-admin-token";
}

// Only where the value cannot be a non-secret flag's (which may be echoed):
// after a secret flag, or where it is a positional for sure.
void PlantSecrets(std::vector<std::string>* args) {
  for (std::size_t i = 0; i < args->size(); ++i) {
    std::string& a = (*args)[i];
    if (a == "--token=@" || a == "-token=@" || a == "--admin-token=@" || a == "-admin-token=@") {
      a.replace(a.size() - 1, 1, kMarker);
      continue;
    }
    if (a != "@") continue;
    const std::string_view prev = i == 0 ? std::string_view() : std::string_view((*args)[i - 1]);
    const bool positional = prev.empty() || prev.front() != '-' ||
                            prev.find('=') != std::string_view::npos;
    if (positional || IsSecretFlag(prev)) a = kMarker;
  }
}

void CheckNoSecret(const absl::Status& st, bool input_has_marker) {
  if (st.ok()) return;
  FUZZ_CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  const std::string msg(st.message());
  FUZZ_CHECK(msg.find('\n') == std::string::npos);
  if (input_has_marker) return;
  FUZZ_CHECK(msg.find(kMarker) == std::string::npos);
  FUZZ_CHECK(msg.find(absl::CEscape(kMarker)) == std::string::npos);
}

void FuzzFlagSet(const std::vector<std::string>& args, uint8_t mode, bool has_marker) {
  reitunnel::config::FlagSet fs;
  fs.String("listen", "HOST:PORT", "where").Bool("tls").Repeated("hook").String("token");
  if (mode & 1) fs.AllowPositionals();
  if (mode & 2) fs.StopAtFirstPositional();
  absl::Status st = fs.Parse(args);
  CheckNoSecret(st, has_marker);
  if (!st.ok()) return;
  // A successful parse answers every query about every flag.
  for (const char* name : {"listen", "token"}) {
    if (!fs.IsSet(name)) FUZZ_CHECK(fs.GetString(name).empty());
  }
  if (!fs.IsSet("tls")) FUZZ_CHECK(!fs.GetBool("tls"));
  if (!fs.IsSet("hook")) FUZZ_CHECK(fs.GetRepeated("hook").empty());
  if (!(mode & 1)) FUZZ_CHECK(fs.positionals().empty());
  FUZZ_CHECK(!fs.Usage().empty());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::setenv("REITUNNEL_TOKEN", kMarker, 1);
  ::setenv("REITUNNEL_ADMIN_TOKEN", kMarker, 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 4096) return 0;
  const uint8_t mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool has_marker = text.find("Zq7mK2") != std::string_view::npos;
  std::vector<std::string> args = SplitArgs(text);
  FuzzFlagSet(args, mode, has_marker);

  PlantSecrets(&args);
  // Any --config names this file, which holds a token too.
  auto reader = [](const std::string&, std::string* out) {
    *out = std::string("token: ") + kMarker + "\nadmin_api: {token: " + kMarker + "}\n";
    return absl::OkStatus();
  };
  auto agent_reader = [](const std::string&, std::string* out) {
    *out = std::string("token: ") + kMarker + "\n";
    return absl::OkStatus();
  };
  CheckNoSecret(reitunnel::config::LoadServerConfig(args, reader).status(), has_marker);
  CheckNoSecret(reitunnel::config::LoadAgentConfig(args, agent_reader).status(), has_marker);
  return 0;
}
