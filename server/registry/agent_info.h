#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
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
  // Who vouches for the agent (server/auth): agent_id proven with its own
  // token (config agents:), the credential and terms it was admitted
  // under (a reload or revoke ends sessions whose credential lapsed), and
  // the public ports and host names its identity may use (empty: any).
  bool agent_id_verified = false;
  std::string credential;
  std::vector<std::pair<uint16_t, uint16_t>> allowed_ports;
  std::vector<std::string> allowed_hostnames;
  std::vector<std::string> verified_label_keys;  // labels set by agents[].labels
  // The link: "tcp", "tls", "ws" or "wss"; with mTLS the client
  // certificate's RFC 2253 subject, SANs ("DNS:a,IP:10.0.0.1") and SHA-256.
  std::string transport;
  std::string tls_subject;
  std::string tls_san;
  std::string tls_fingerprint_sha256;
  std::map<std::string, std::string> labels;
  std::vector<std::string> features;  // agreed in Welcome
  std::chrono::system_clock::time_point connected_at = std::chrono::system_clock::now();

  bool HasFeature(const std::string& f) const;
};

// How bans and operators name an agent across reconnects: its agent id when
// it gave one, else its IP address (an agent behind a shared NAT shares it).
std::string AgentIdentity(const AgentInfo& info);

}  // namespace reitunnel::server
