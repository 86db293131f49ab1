#include "server/auth/allowed_hostnames.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace reitunnel::server {

bool HostnameCovers(std::string_view allowed, std::string_view claim) {
  if (!allowed.starts_with("*.")) return allowed == claim;
  const std::string_view suffix = allowed.substr(1);  // ".example.com"
  // A wildcard claim "*.x.d" is compared as ".x.d": "*.d" covers "*.d"
  // itself and everything ending in ".d".
  if (claim.starts_with("*.")) claim.remove_prefix(1);
  return claim.ends_with(suffix);
}

std::optional<Refusal> ApplyAllowedHostnames(const AgentInfo& info, const std::string& claim) {
  if (info.allowed_hostnames.empty()) return std::nullopt;
  for (const auto& allowed : info.allowed_hostnames) {
    if (HostnameCovers(allowed, claim)) return std::nullopt;
  }
  return Refusal{wire::v1::REFUSAL_CODE_DENIED,
                 absl::StrCat("agent \"", info.agent_id, "\" may not claim hostname ", claim,
                              " (allowed: ", absl::StrJoin(info.allowed_hostnames, ", "), ")")};
}

}  // namespace reitunnel::server
