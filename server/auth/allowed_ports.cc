#include "server/auth/allowed_ports.h"

#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/net/listener.h"

namespace reitunnel::server {

std::string AllowedPortsString(const AgentInfo& info) {
  std::string out;
  for (const auto& [lo, hi] : info.allowed_ports) {
    if (!out.empty()) out += ", ";
    absl::StrAppend(&out, lo);
    if (hi != lo) absl::StrAppend(&out, "-", hi);
  }
  return out;
}

std::optional<Refusal> ApplyAllowedPorts(const AgentInfo& info, const PortAllocator& ports,
                                         uint32_t* requested) {
  if (info.allowed_ports.empty()) return std::nullopt;
  auto allowed = [&info](uint32_t p) {
    for (const auto& [lo, hi] : info.allowed_ports) {
      if (p >= lo && p <= hi) return true;
    }
    return false;
  };
  if (*requested != 0) {
    if (allowed(*requested)) return std::nullopt;
    return Refusal{wire::v1::REFUSAL_CODE_DENIED,
                   absl::StrCat("agent \"", info.agent_id, "\" may not use port ", *requested,
                                " (allowed: ", AllowedPortsString(info), ")")};
  }
  // Each port once, however the entries overlap: at most the range's size.
  std::vector<uint16_t> candidates;
  const auto [low, high] = ports.range();
  for (uint32_t p = low; p <= high; ++p) {
    if (allowed(p)) candidates.push_back(static_cast<uint16_t>(p));
  }
  if (!candidates.empty()) {
    const size_t start = std::random_device{}() % candidates.size();
    for (size_t i = 0; i < candidates.size(); ++i) {
      const uint16_t p = candidates[(start + i) % candidates.size()];
      if (!net::ProbeListen({ports.bind_addr(), p})) {
        *requested = p;
        return std::nullopt;
      }
    }
  }
  return Refusal{wire::v1::REFUSAL_CODE_LIMIT,
                 absl::StrCat("none of the ports agent \"", info.agent_id,
                              "\" may use is free (allowed: ", AllowedPortsString(info), ")")};
}

}  // namespace reitunnel::server
