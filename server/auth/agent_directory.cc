#include "server/auth/agent_directory.h"

#include <openssl/evp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/config/config_file.h"
#include "common/wire/auth.h"
#include "server/vhost/host_pattern.h"

namespace reitunnel::server {
namespace {

constexpr size_t kMaxTokenFileBytes = 1024 + 2;

}  // namespace

std::string Fingerprint(absl::string_view domain, const std::vector<absl::string_view>& parts) {
  // Length-prefixed, so different splits never collide.
  std::string data = absl::StrCat("reitunnel/1 ", domain.size(), ":", domain);
  for (absl::string_view p : parts) absl::StrAppend(&data, " ", p.size(), ":", p);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(md), 8));
}

absl::StatusOr<std::string> AgentDirectory::ReadTokenFile(const std::string& path) {
  std::string text;
  if (absl::Status st = config::ReadConfigFile(path, &text); !st.ok()) return st;
  if (text.size() > kMaxTokenFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": too large for a token (at most 1024 bytes)"));
  }
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

absl::StatusOr<std::shared_ptr<const AgentDirectory>> AgentDirectory::Build(
    const config::v1::ServerConfig& cfg, const FileReader& read) {
  auto dir = std::make_shared<AgentDirectory>();
  for (int i = 0; i < cfg.agents_size(); ++i) {
    const auto& a = cfg.agents(i);
    const std::string at = absl::StrCat("agents[", i, "] (", a.id(), ")");
    IdentityEntry e;
    e.id = a.id();
    if (!a.token_file().empty()) {
      absl::StatusOr<std::string> token = read(a.token_file());
      if (!token.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(at, ".token_file: ", token.status().message()));
      }
      if (token->empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(at, ".token_file: ", a.token_file(), " is empty"));
      }
      e.key = wire::IdentityKey(*token);
      e.source = absl::StrCat("token_file ", a.token_file());
    } else {
      const std::string& hex = a.token_sha256();
      bool ok = hex.size() == 64;
      for (char c : hex) ok = ok && absl::ascii_isxdigit(static_cast<unsigned char>(c));
      if (!ok) {
        return absl::InvalidArgumentError(absl::StrCat(at, ".token_sha256: expected 64 hex digits"));
      }
      e.key = absl::HexStringToBytes(hex);
      e.source = "token_sha256";
    }
    e.labels.insert(a.labels().begin(), a.labels().end());
    for (const auto& spec : a.allowed_ports()) {
      absl::StatusOr<config::PortRange> r = config::ParsePortRange(spec);
      if (!r.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(at, ".allowed_ports: ", r.status().message()));
      }
      e.allowed_ports.push_back(*r);
    }
    for (const auto& spec : a.allowed_hostnames()) {
      absl::StatusOr<vhost::HostPattern> p = vhost::ParseHostPattern(spec);
      if (!p.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(at, ".allowed_hostnames: ", p.status().message()));
      }
      e.allowed_hostnames.push_back(p->ToString());
    }
    e.key_id = Fingerprint("agent key", {e.id, e.key});
    std::vector<std::string> settings;
    for (const auto& [k, v] : e.labels) settings.push_back(absl::StrCat(k, "=", v));
    for (const auto& r : e.allowed_ports) settings.push_back(absl::StrCat(r.low, "-", r.high));
    for (const auto& h : e.allowed_hostnames) settings.push_back(absl::StrCat("host ", h));
    std::vector<absl::string_view> parts = {e.id, e.key};
    for (const auto& s : settings) parts.push_back(s);
    e.credential = Fingerprint("agent credential", parts);
    if (dir->by_id_.count(e.id)) {
      return absl::InvalidArgumentError(absl::StrCat(at, ".id: duplicate agent id"));
    }
    dir->by_id_.emplace(e.id, dir->entries_.size());
    dir->entries_.push_back(std::move(e));
  }
  return std::shared_ptr<const AgentDirectory>(std::move(dir));
}

const IdentityEntry* AgentDirectory::Find(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &entries_[it->second];
}

}  // namespace reitunnel::server
