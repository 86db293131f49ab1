#include "cli/commands/commands.h"

namespace reitunnel::cli {

const std::vector<GroupSpec>& AllGroups() {
  static const std::vector<GroupSpec> kGroups{
      StatusGroup(), ClientsGroup(), TunnelsGroup(), HooksGroup(), EventsGroup(),
      BansGroup(),
      AgentsGroup(),
      ClusterGroup(),
      CompletionGroup(),
  };
  return kGroups;
}

}  // namespace reitunnel::cli
