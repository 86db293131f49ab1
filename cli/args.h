#pragma once

// reitunnelctl's command line: global flags (anywhere: before, between or
// after the command words), the command words, the command's own flags and
// its positional arguments.

#include <functional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/config/flags.h"

namespace reitunnel::cli {

enum class Action { kRun, kHelp, kVersion };

struct CommandLine {
  Action action = Action::kRun;
  GlobalOptions globals;
  const GroupSpec* group = nullptr;      // null for top-level help/version
  const CommandSpec* command = nullptr;  // null for top-level or group help
  config::FlagSet flags;                 // the command's own flags
  std::vector<std::string> args;         // positionals after the command words
  std::string help_text;                 // for Action::kHelp
};

// Returns the environment variable or nullptr (std::getenv in main).
using EnvLookup = std::function<const char*(const char*)>;

// Parses argv (without the program name) against `groups`. Returns a
// kExitUsage outcome with a one-line message (naming the --help to read) on
// a bad command line. Never echoes a flag's value.
Outcome ParseCommandLine(const std::vector<std::string>& argv, const std::vector<GroupSpec>& groups,
                         const EnvLookup& env, CommandLine* out);

// Registers the global flags ("o" is the short spelling of "output").
void AddGlobalFlags(config::FlagSet& fs);

// Accepts "5s", "500ms", "1m30s" and bare seconds ("10").
bool ParseTimeout(const std::string& text, absl::Duration* out);

}  // namespace reitunnel::cli
