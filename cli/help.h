#pragma once

// --help texts of reitunnelctl.

#include <string>
#include <vector>

#include "cli/command.h"

namespace reitunnel::cli {

inline constexpr const char* kProgram = "reitunnelctl";

std::string TopLevelHelp(const std::vector<GroupSpec>& groups);
std::string GroupHelp(const GroupSpec& group);
std::string CommandHelp(const GroupSpec& group, const CommandSpec& command);

// "reitunnelctl tunnels list", "reitunnelctl status".
std::string CommandPath(const GroupSpec* group, const CommandSpec* command);

}  // namespace reitunnel::cli
