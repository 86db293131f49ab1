#include "cli/help.h"

#include "absl/strings/str_cat.h"
#include "common/config/flags.h"

namespace reitunnel::cli {
namespace {

// Same layout as config::FlagSet::Usage(). Defaults never show a secret.
constexpr const char* kGlobalFlags =
    "Global flags (accepted before or after the command words):\n"
    "  --admin=HOST:PORT           admin API address (env REITUNNEL_ADMIN;\n"
    "                              default 127.0.0.1:7001)\n"
    "  --token=SECRET              admin token, sent as \"authorization: Bearer\"\n"
    "                              (env REITUNNEL_ADMIN_TOKEN; the flag wins)\n"
    "  --tls                       connect with TLS (implied by the --tls-* flags)\n"
    "  --tls-ca=FILE               CA bundle that verifies the server\n"
    "                              (default: system roots)\n"
    "  --tls-cert=FILE             client certificate, for mTLS\n"
    "  --tls-key=FILE              client private key, for mTLS\n"
    "  --tls-server-name=NAME      name expected in the server's certificate\n"
    "  --timeout=DURATION          deadline of each call, e.g. 500ms, 10s\n"
    "                              (default 5s)\n"
    "  -o, --output=FORMAT         table (default), wide (more columns), json or\n"
    "                              yaml\n"
    "  -h, --help                  show help\n";

constexpr const char* kEnvironment =
    "Environment:\n"
    "  REITUNNEL_ADMIN             admin API address when --admin is not given\n"
    "  REITUNNEL_ADMIN_TOKEN       admin token when --token is not given (keeps it\n"
    "                              out of ps and shell history)\n"
    "  GRPC_VERBOSITY              debug, info or error: show gRPC's own log lines\n"
    "                              on stderr (hidden by default)\n";

constexpr const char* kExitCodes =
    "Exit codes: 0 ok, 1 error or not found, 2 usage, 3 admin API unreachable or\n"
    "credentials refused.\n";

std::string Pad(const std::string& s, std::size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

}  // namespace

std::string CommandPath(const GroupSpec* group, const CommandSpec* command) {
  std::string out = kProgram;
  if (group != nullptr) absl::StrAppend(&out, " ", group->name);
  if (command != nullptr && !command->verb.empty()) absl::StrAppend(&out, " ", command->verb);
  return out;
}

std::string TopLevelHelp(const std::vector<GroupSpec>& groups) {
  std::string out =
      absl::StrCat(kProgram, " manages a running reitunneld through its gRPC admin API.\n\n",
                   "Usage: ", kProgram, " [global flags] COMMAND [SUBCOMMAND] [ARGS] [flags]\n\n",
                   "Commands:\n");
  for (const GroupSpec& g : groups) {
    if (g.IsLeaf()) {
      absl::StrAppend(&out, "  ", Pad(g.name, 28), g.summary, "\n");
      continue;
    }
    for (const CommandSpec& c : g.commands) {
      std::string words = absl::StrCat(g.name, " ", c.verb);
      if (!c.args_usage.empty()) absl::StrAppend(&words, " ", c.args_usage);
      absl::StrAppend(&out, "  ", Pad(words, 28), c.summary, "\n");
    }
  }
  absl::StrAppend(&out, "\n", kGlobalFlags, "\n", kEnvironment, "\n", kExitCodes, "\nExamples:\n", "  ", kProgram,
                  " --admin=127.0.0.1:7001 --token=SECRET tunnels list\n",
                  "  REITUNNEL_ADMIN_TOKEN=SECRET ", kProgram, " tunnels list -o json\n", "  ",
                  kProgram, " clients kick 3f2a9c0d11e4b7a8 --reason=maintenance\n", "  ", kProgram,
                  " events watch --client=3f2a9c0d11e4b7a8\n", "  source <(", kProgram,
                  " completion bash)\n\n", "Run '", kProgram,
                  " COMMAND [SUBCOMMAND] --help' for more.\n");
  return out;
}

std::string GroupHelp(const GroupSpec& group) {
  std::string out = absl::StrCat(group.summary, "\n\nUsage: ", kProgram, " ", group.name,
                                 " SUBCOMMAND [ARGS] [flags]\n\nSubcommands:\n");
  for (const CommandSpec& c : group.commands) {
    std::string words = c.verb;
    if (!c.args_usage.empty()) absl::StrAppend(&words, " ", c.args_usage);
    absl::StrAppend(&out, "  ", Pad(words, 28), c.summary, "\n");
  }
  absl::StrAppend(&out, "\n", kGlobalFlags, "\nRun '", kProgram, " ", group.name,
                  " SUBCOMMAND --help' for more.\n");
  return out;
}

std::string CommandHelp(const GroupSpec& group, const CommandSpec& command) {
  std::string out = absl::StrCat(command.summary, "\n\nUsage: ", CommandPath(&group, &command));
  if (!command.args_usage.empty()) absl::StrAppend(&out, " ", command.args_usage);
  absl::StrAppend(&out, " [flags]\n");
  if (!command.details.empty()) absl::StrAppend(&out, "\n", command.details);
  if (command.add_flags) {
    config::FlagSet fs;
    command.add_flags(fs);
    const std::string usage = fs.Usage();
    if (!usage.empty()) absl::StrAppend(&out, "\nFlags:\n", usage);
  }
  absl::StrAppend(&out, "\n", kGlobalFlags, "\n", kExitCodes);
  return out;
}

}  // namespace reitunnel::cli
