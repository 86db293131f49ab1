#pragma once

// The command table: one group per file in cli/commands/.

#include <vector>

#include "cli/command.h"

namespace reitunnel::cli {

GroupSpec StatusGroup();
GroupSpec ClientsGroup();
GroupSpec TunnelsGroup();
GroupSpec HooksGroup();
GroupSpec EventsGroup();
GroupSpec BansGroup();
GroupSpec AgentsGroup();
GroupSpec ClusterGroup();
GroupSpec CompletionGroup();

// Every group, in help order.
const std::vector<GroupSpec>& AllGroups();

}  // namespace reitunnel::cli
