#include "server/cluster/cluster_keys.h"

#include <charconv>

#include "server/cluster/replica_record.h"

namespace reitunnel::cluster {

std::optional<std::string> ClusterKeys::ReplicaIdOf(std::string_view key) const {
  const std::string prefix = ReplicasPrefix();
  if (key.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view id = key.substr(prefix.size());
  if (!IsValidKeySegment(id)) return std::nullopt;
  return std::string(id);
}

std::optional<ClusterKeys::Holder> ClusterKeys::HolderOf(std::string_view key) const {
  const std::string prefix = PortsPrefix();
  if (key.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view rest = key.substr(prefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash > 5) return std::nullopt;
  std::string_view port_text = rest.substr(0, slash);
  if (port_text.size() > 1 && port_text.front() == '0') return std::nullopt;
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return std::nullopt;
  }
  std::string_view replica = rest.substr(slash + 1);
  if (!IsValidKeySegment(replica)) return std::nullopt;
  return Holder{static_cast<uint16_t>(port), std::string(replica)};
}

}  // namespace reitunnel::cluster
