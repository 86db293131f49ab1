#include "cli/commands/commands.h"

namespace reitunnel::cli {

const std::vector<GroupSpec>& AllGroups() {
  static const std::vector<GroupSpec>* const kGroups = new std::vector<GroupSpec>{
      StatusGroup(), ClientsGroup(), TunnelsGroup(), HooksGroup(), EventsGroup(),
  };
  return *kGroups;
}

}  // namespace reitunnel::cli
