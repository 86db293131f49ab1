#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace reitunnel::server {

// An authenticated agent, as the server saw it at its handshake.
struct AgentInfo {
  std::string client_id;      // server-assigned, per session
  std::string remote_addr;    // "ip:port"
  std::string remote_ip;      // "ip"
  std::string agent_version;
  std::string instance_id;    // random per agent process (Hello)
  std::string agent_id;       // --agent-id, "" when none
  std::map<std::string, std::string> labels;
  std::vector<std::string> features;  // agreed in Welcome
  std::chrono::system_clock::time_point connected_at = std::chrono::system_clock::now();

  bool HasFeature(const std::string& f) const;
};

// How bans and operators name an agent across reconnects: its agent id when
// it gave one, else its IP address (an agent behind a shared NAT shares it).
std::string AgentIdentity(const AgentInfo& info);

}  // namespace reitunnel::server
