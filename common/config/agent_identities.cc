#include "common/config/agent_identities.h"

#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/config/parse.h"

namespace reitunnel::config::internal {
namespace {

constexpr size_t kMaxAgents = 10000;
constexpr size_t kMaxAllowedPortEntries = 256;
constexpr size_t kMaxAllowedHostnames = 64;
constexpr size_t kMaxWsPath = 256;

bool IsHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

bool IsValidAgentId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
              c == '-' || c == '@';
    if (!ok) return false;
  }
  return true;
}

absl::Status ResolveAgents(const Origins& origins, config::v1::ServerConfig* cfg) {
  if (static_cast<size_t>(cfg->agents_size()) > kMaxAgents) {
    return origins.FileError("agents", absl::StrCat("more than ", kMaxAgents, " entries"));
  }
  absl::StatusOr<PortRange> range = ParsePortRange(cfg->public_ports());
  std::set<std::string> ids;
  for (int i = 0; i < cfg->agents_size(); ++i) {
    auto* a = cfg->mutable_agents(i);
    const std::string at = absl::StrCat("agents[", i, "]");
    if (a->id().empty()) return origins.FileError(at + ".id", "missing");
    if (!IsValidAgentId(a->id())) {
      return origins.FileError(at + ".id",
                               "invalid agent id (1-128 characters from A-Z a-z 0-9 _ . @ -)");
    }
    if (!ids.insert(a->id()).second) {
      return origins.FileError(at + ".id", absl::StrCat("duplicate agent id \"", a->id(), "\""));
    }
    const bool has_hash = !a->token_sha256().empty();
    const bool has_file = !a->token_file().empty();
    if (has_hash == has_file) {
      return origins.FileError(
          at, has_hash ? "set only one of token_sha256 and token_file"
                       : "missing token_sha256 (hex SHA-256 of the agent's token) or token_file");
    }
    if (has_hash) {
      if (!IsHex64(a->token_sha256())) {
        return origins.FileError(at + ".token_sha256",
                                 "expected 64 hex digits (the SHA-256 of the agent's token, "
                                 "e.g. printf %s \"$TOKEN\" | sha256sum)");
      }
      a->set_token_sha256(absl::AsciiStrToLower(a->token_sha256()));
    }
    for (const auto& [key, value] : a->labels()) {
      if (!IsValidLabelKey(key)) {
        return origins.FileError(absl::StrCat(at, ".labels.", key),
                                 "invalid label key (1-128 characters from A-Z a-z 0-9 _ . - /)");
      }
    }
    if (static_cast<size_t>(a->allowed_ports_size()) > kMaxAllowedPortEntries) {
      return origins.FileError(at + ".allowed_ports",
                               absl::StrCat("more than ", kMaxAllowedPortEntries, " entries"));
    }
    for (int j = 0; j < a->allowed_ports_size(); ++j) {
      const std::string p_at = absl::StrCat(at, ".allowed_ports[", j, "]");
      absl::StatusOr<PortRange> p = ParsePortRange(a->allowed_ports(j));
      if (!p.ok()) return origins.FileError(p_at, p.status().message());
      if (range.ok() && (p->low < range->low || p->high > range->high)) {
        return origins.FileError(
            p_at, absl::StrCat("outside public_ports (", range->low, "-", range->high, ")"));
      }
    }
    if (static_cast<size_t>(a->allowed_hostnames_size()) > kMaxAllowedHostnames) {
      return origins.FileError(at + ".allowed_hostnames",
                               absl::StrCat("more than ", kMaxAllowedHostnames, " entries"));
    }
    for (int j = 0; j < a->allowed_hostnames_size(); ++j) {
      if (absl::Status st = CheckTunnelHostname(a->allowed_hostnames(j)); !st.ok()) {
        return origins.FileError(absl::StrCat(at, ".allowed_hostnames[", j, "]"), st.message());
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ResolveWebSocket(const FlagSet& fs, const Origins& origins,
                              config::v1::ServerConfig* cfg) {
  if (fs.IsSet("ws-listen")) cfg->set_ws_listen(fs.GetString("ws-listen"));
  if (cfg->ws_listen().empty()) {
    if (!cfg->ws_path().empty()) {
      return origins.FileError("ws_path", "set but the WebSocket listener is off (set ws_listen)");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<HostPort> ws = ParseHostPort(cfg->ws_listen());
  if (!ws.ok()) {
    return origins.Error("ws-listen", "ws_listen", cfg->ws_listen(), true, ws.status().message());
  }
  for (const auto& [flag, key, other] :
       {std::tuple{"listen", "listen", cfg->listen()}, {"admin", "admin", cfg->admin()}}) {
    absl::StatusOr<HostPort> o = ParseHostPort(other);
    if (o.ok() && ws->port != 0 && o->host == ws->host && o->port == ws->port) {
      return origins.Error("ws-listen", "ws_listen", cfg->ws_listen(), true,
                           absl::StrCat("same address as ", origins.Name(flag, key)));
    }
  }
  if (cfg->ws_path().empty()) cfg->set_ws_path("/reitunnel");
  const std::string& path = cfg->ws_path();
  bool ok = path.size() <= kMaxWsPath && path[0] == '/';
  for (char c : path) ok = ok && c > 0x20 && c < 0x7f && c != '?' && c != '#';
  if (!ok) {
    return origins.FileError("ws_path",
                             "expected an absolute path of visible ASCII without ? or # (at most "
                             "256 characters), e.g. /reitunnel");
  }
  return absl::OkStatus();
}

}  // namespace reitunnel::config::internal
