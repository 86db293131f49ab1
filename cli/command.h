#pragma once

// The pieces every reitunnelctl command shares: global options, exit codes,
// the outcome of a command, and the command table entries.

#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "common/config/flags.h"

namespace reitunnel::cli {

class AdminClient;

enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,        // failed, or not found
  kExitUsage = 2,        // bad command line
  kExitUnreachable = 3,  // admin API unreachable or credentials refused
};

// What a command ended with. `message` is one human line without the
// "reitunnelctl: " prefix; empty on success.
struct Outcome {
  int exit_code = kExitOk;
  std::string message;

  static Outcome Ok() { return {}; }
  static Outcome Error(std::string msg) { return {kExitError, std::move(msg)}; }
  static Outcome Usage(std::string msg) { return {kExitUsage, std::move(msg)}; }
  static Outcome Unreachable(std::string msg) { return {kExitUnreachable, std::move(msg)}; }
  bool ok() const { return exit_code == kExitOk; }
};

// table: aligned columns; wide: more columns; json/yaml: the API message.
enum class OutputFormat { kTable, kWide, kJson, kYaml };
// The -o spellings, in the order above.
inline constexpr const char* kOutputFormatNames[] = {"table", "wide", "json", "yaml"};

inline constexpr const char* kDefaultAdminAddr = "127.0.0.1:7001";

struct GlobalOptions {
  std::string admin = kDefaultAdminAddr;
  std::string token;  // never printed
  bool tls = false;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
  absl::Duration timeout = absl::Seconds(5);
  OutputFormat output = OutputFormat::kTable;
};

// What a command runs with.
struct Context {
  GlobalOptions globals;
  std::ostream& out;
  std::ostream& err;
  // Connects lazily, on first use; nullptr with *outcome set on failure.
  std::function<AdminClient*(Outcome* outcome)> admin;
  // Positional arguments after the command words (e.g. the ID).
  std::vector<std::string> args;
  // The command's own flags, parsed.
  const config::FlagSet* flags = nullptr;
  absl::Time now = absl::Now();
};

struct CommandSpec {
  std::string verb;          // "list"; empty for a group's only command
  std::string args_usage;    // "ID" or ""
  std::string args_missing;  // message when the positional is missing
  std::string summary;       // one line for the parent's help
  std::string details;       // paragraphs and examples for --help
  int min_args = 0;
  int max_args = 0;
  std::function<void(config::FlagSet&)> add_flags;
  std::function<Outcome(Context&)> run;
  // For shell completion: the words a positional may be, when known
  // offline ("bash", "zsh"), and the values of the command's own flags.
  std::vector<std::string> arg_values;
  std::vector<std::pair<std::string, std::vector<std::string>>> flag_values;
};

struct GroupSpec {
  std::string name;     // "tunnels"
  std::string summary;  // one line for the top-level help
  std::vector<CommandSpec> commands;

  // True for single-command groups such as "status".
  bool IsLeaf() const { return commands.size() == 1 && commands[0].verb.empty(); }
};

}  // namespace reitunnel::cli
