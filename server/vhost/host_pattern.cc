#include "server/vhost/host_pattern.h"

#include <optional>

#include "absl/status/status.h"
#include "common/hostname/hostname.h"

namespace reitunnel::server::vhost {

absl::StatusOr<HostPattern> ParseHostPattern(std::string_view pattern) {
  HostPattern out;
  std::string_view name = pattern;
  if (name.size() >= 2 && name[0] == '*' && name[1] == '.') {
    out.wildcard = true;
    name.remove_prefix(2);
  }
  std::optional<std::string> canonical = hostname::Normalize(name);
  // The limit applies to the name as written, "*." included, so a claimed
  // pattern always fits where host names go (logs, hook metadata).
  if (!canonical || canonical->size() + (out.wildcard ? 2 : 0) > hostname::kMaxLength) {
    return absl::InvalidArgumentError(
        "invalid hostname: want a DNS name (letters, digits, '-', '.'; punycode for IDNs) or "
        "'*.' followed by one");
  }
  out.name = std::move(*canonical);
  return out;
}

}  // namespace reitunnel::server::vhost
