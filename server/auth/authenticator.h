#pragma once

// Verifies an agent's proof in its control Hello: HMAC-SHA256 over the
// server's fresh nonce, keyed with
//  - SHA-256(the agent's own token) when the Hello names a configured
//    agent id (config `agents:`), with the id in the transcript: a verified
//    identity;
//  - else the shared token (or SHA-256 of it with the id in the transcript
//    when the agent gave an id that is not configured: a claimed id, which
//    nobody vouches for).
// The token never crosses the wire; comparisons are constant-time.
//
// Thread-safe: handshakes on every worker verify while the control thread
// swaps the shared token and the directory (SIGHUP) or revokes an agent.

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "reitunnel/wire/v1/wire.pb.h"
#include "server/auth/agent_directory.h"

namespace reitunnel::server {

class Authenticator {
 public:
  explicit Authenticator(std::string shared_token,
                         std::shared_ptr<const AgentDirectory> agents = nullptr);

  struct Result {
    bool ok = false;
    // The secret the session key is derived from.
    std::string key;
    // The agent id the agent gave ("" for none).
    std::string agent_id;
    // True when agent_id was proven with its own configured token.
    bool verified = false;
    // Names the credential and the terms the agent was admitted under; a
    // session whose credential is no longer Valid() must end.
    std::string credential;
    // From the agent's `agents:` entry (verified only).
    std::map<std::string, std::string> labels;
    std::vector<config::PortRange> allowed_ports;
    std::vector<std::string> allowed_hostnames;
  };
  Result VerifyControl(const wire::v1::Hello& hello, std::string_view nonce) const;

  // Replaces the shared token (empty: none accepted) and the identities.
  void Update(std::string shared_token, std::shared_ptr<const AgentDirectory> agents);
  // Refuses the configured agent `id` with its current token until the
  // server restarts (a reload keeps it refused; a new token for the id in
  // the config is accepted). False if `id` is not configured.
  bool Revoke(const std::string& id);

  enum class CredentialState {
    kValid,
    kRevoked,        // revoked by an operator
    kRemoved,        // the id is no longer configured
    kChanged,        // its token, labels or allowed ports changed
    kSharedChanged,  // the shared token changed or was removed
  };
  CredentialState State(const std::string& credential, const std::string& agent_id,
                        bool verified) const;

  struct Listed {
    IdentityEntry entry;
    bool revoked = false;
  };
  std::vector<Listed> List() const;
  bool shared_token_enabled() const;

 private:
  struct State_ {
    std::string shared_token;
    std::string shared_credential;
    std::shared_ptr<const AgentDirectory> agents;
  };
  std::shared_ptr<const State_> Snapshot() const;
  bool RevokedLocked(const IdentityEntry& e) const;

  mutable std::mutex mu_;
  std::shared_ptr<const State_> state_;  // guarded by mu_
  std::set<std::string> revoked_;        // key_id of revoked entries; guarded by mu_
};

}  // namespace reitunnel::server
