#pragma once

// The server's per-agent identities (config `agents:`), built once from a
// validated config and then immutable: the Authenticator swaps whole
// directories on reload, so readers on every worker need no lock beyond
// taking a reference.
//
// What the server keeps of an agent's token is SHA-256(token), the HMAC key
// of its proof (wire::IdentityKey): from token_sha256, or hashed from
// token_file at build time (the file's text is not kept).

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/config/parse.h"
#include "reitunnel/config/v1/server.pb.h"

namespace reitunnel::server {

struct IdentityEntry {
  std::string id;
  // 32 raw bytes: SHA-256(token). Never logged or shown.
  std::string key;
  // 16 hex digits naming this key (not enough to authenticate with).
  std::string key_id;
  // 16 hex digits over the key and every setting below: a session whose
  // credential differs after a reload was admitted under other terms.
  std::string credential;
  std::map<std::string, std::string> labels;
  std::vector<config::PortRange> allowed_ports;  // empty: any port of the range
  // Canonical patterns ("app.example.com", "*.example.com"); empty: any name.
  std::vector<std::string> allowed_hostnames;
  // "token_sha256" or "token_file" (the path), for operators.
  std::string source;
};

class AgentDirectory {
 public:
  // Reads a token file (the path) into its text.
  using FileReader = std::function<absl::StatusOr<std::string>(const std::string& path)>;

  // `cfg.agents` as validated by LoadServerConfig. Fails on an unreadable
  // or empty token file (the error names the path and entry, never the
  // contents).
  static absl::StatusOr<std::shared_ptr<const AgentDirectory>> Build(
      const config::v1::ServerConfig& cfg, const FileReader& read = ReadTokenFile);

  // At most 1 KiB and one trailing newline stripped, like a Kubernetes
  // Secret mounted as a file.
  static absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

  const IdentityEntry* Find(std::string_view id) const;
  const std::vector<IdentityEntry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }

 private:
  std::vector<IdentityEntry> entries_;  // config order
  std::map<std::string, size_t, std::less<>> by_id_;
};

// 16 hex digits of a domain-separated SHA-256 of `parts`: names a secret
// (or a set of settings) without revealing it.
std::string Fingerprint(absl::string_view domain, const std::vector<absl::string_view>& parts);

}  // namespace reitunnel::server
