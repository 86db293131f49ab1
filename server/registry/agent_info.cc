#include "server/registry/agent_info.h"

#include <algorithm>

namespace reitunnel::server {

bool AgentInfo::HasFeature(const std::string& f) const {
  return std::find(features.begin(), features.end(), f) != features.end();
}

std::string AgentIdentity(const AgentInfo& info) {
  return info.agent_id.empty() ? info.remote_ip : info.agent_id;
}

}  // namespace reitunnel::server
