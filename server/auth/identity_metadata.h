#pragma once

// The hook metadata that says who an agent is (documented in hook.proto):
//   agent_id                 only when proven with the agent's own token
//                            (config agents:), so a policy on it is safe
//   claimed_agent_id         an id given with the shared token: nobody
//                            vouches for it; never base a decision on it
//   auth                     "agent_token" or "shared_token"
//   verified_labels          "k1,k2": label.* keys set by agents[].labels
//   transport                "tcp", "tls", "ws" or "wss"
//   tls.subject, tls.san,    the client certificate (mTLS): RFC 2253
//   tls.fingerprint_sha256   subject, SANs "DNS:a,IP:10.0.0.1", SHA-256 hex
// Works on std::map and protobuf maps alike.

#include <string>

#include "absl/strings/str_join.h"
#include "server/registry/agent_info.h"

namespace reitunnel::server {

template <typename Map>
void AddIdentityMetadata(const AgentInfo& i, Map& md) {
  if (!i.agent_id.empty()) md[i.agent_id_verified ? "agent_id" : "claimed_agent_id"] = i.agent_id;
  md["auth"] = i.agent_id_verified ? "agent_token" : "shared_token";
  if (!i.verified_label_keys.empty()) {
    md["verified_labels"] = absl::StrJoin(i.verified_label_keys, ",");
  }
  if (!i.transport.empty()) md["transport"] = i.transport;
  if (!i.tls_fingerprint_sha256.empty()) {
    md["tls.subject"] = i.tls_subject;
    md["tls.san"] = i.tls_san;
    md["tls.fingerprint_sha256"] = i.tls_fingerprint_sha256;
  }
}

}  // namespace reitunnel::server
