#pragma once

// Shell completion scripts for reitunnelctl, generated from the command
// table: command words, each command's flags, global flags and the values
// known offline (-o formats, event types, file names for --tls-*). IDs are
// not completed: that would need the server.

#include <string>
#include <vector>

#include "cli/command.h"

namespace reitunnel::cli {

// The shells `reitunnelctl completion SHELL` writes a script for.
inline constexpr const char* kCompletionShells[] = {"bash", "zsh"};

// A script to `source` in bash (bash-completion not required): defines
// _reitunnelctl and registers it with `complete -F`.
std::string BashCompletion(const std::vector<GroupSpec>& groups);

// A #compdef script for zsh: put it on $fpath as _reitunnelctl, or source
// it after compinit.
std::string ZshCompletion(const std::vector<GroupSpec>& groups);

// 'text' for the shells, with ' written as '\''.
std::string ShellQuote(const std::string& text);

}  // namespace reitunnel::cli
