#pragma once

// The etcd key layout of one cluster (--cluster-name=NAME is the prefix):
//
//   NAME/replicas/<replica_id>        ReplicaRecord JSON, bound to the replica's lease
//   NAME/ports/<port>/<replica_id>    owner id, bound to that replica's lease
//
// Pure functions over strings.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reitunnel::cluster {

class ClusterKeys {
 public:
  explicit ClusterKeys(std::string name) : name_(std::move(name)) {}

  std::string ReplicasPrefix() const { return name_ + "/replicas/"; }
  std::string ReplicaKey(std::string_view replica_id) const {
    return ReplicasPrefix() + std::string(replica_id);
  }
  std::string PortsPrefix() const { return name_ + "/ports/"; }
  // The trailing '/' keeps port 2008 from matching 20080's keys.
  std::string PortPrefix(uint16_t port) const {
    return PortsPrefix() + std::to_string(port) + "/";
  }
  std::string HolderKey(uint16_t port, std::string_view replica_id) const {
    return PortPrefix(port) + std::string(replica_id);
  }

  // The replica id of a key under ReplicasPrefix(), or nullopt.
  std::optional<std::string> ReplicaIdOf(std::string_view key) const;

  struct Holder {
    uint16_t port;
    std::string replica_id;
  };
  // Port and replica of a key under PortsPrefix(), or nullopt for anything
  // else (a foreign or malformed key is ignored, never trusted).
  std::optional<Holder> HolderOf(std::string_view key) const;

  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

}  // namespace reitunnel::cluster
