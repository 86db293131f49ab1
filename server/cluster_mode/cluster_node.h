#pragma once

// Cluster mode, assembled for the server: one etcd client, this replica's
// lease, its membership record and the cluster-wide port claims, all on one
// strand of the control executor. Sessions use it from their workers
// (claims are awaitables resuming on the caller's executor; ServingAllowed
// and Replicas are thread-safe); the server reacts to its callbacks.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "reitunnel/config/v1/server.pb.h"
#include "reitunnel/wire/v1/wire.pb.h"
#include "server/cluster/port_claims.h"
#include "server/cluster/replica_record.h"

namespace reitunnel::cluster {
class LeaseSession;
class Membership;
namespace etcd {
class EtcdClient;
}
}  // namespace reitunnel::cluster

namespace reitunnel::server {

class ClusterNode {
 public:
  struct Callbacks {
    // The live replica set changed (on the control strand).
    std::function<void(const std::vector<wire::v1::Replica>&)> on_replicas_changed;
    // A port claim could not be kept (lease lost and another agent took the
    // port): the tunnel on `port` must close on this replica.
    std::function<void(uint16_t port, const std::string& why)> on_claim_lost;
  };

  // Validates `cfg` (endpoints, replica id, files) and connects lazily.
  static absl::StatusOr<std::unique_ptr<ClusterNode>> Create(
      asio::any_io_executor control, const config::v1::ClusterConfig& cfg, Callbacks callbacks);
  ~ClusterNode();
  // Before Start().
  void set_callbacks(Callbacks c) { callbacks_ = std::move(c); }

  // Control executor: grants the lease and registers this replica
  // (`agent_address`, `admin_address` announced), waiting at most `wait`.
  // UNAVAILABLE when etcd did not answer in time.
  asio::awaitable<absl::Status> Start(std::string agent_address, std::string admin_address,
                                      std::chrono::milliseconds wait);
  // Control executor: stops serving, revokes the lease (other replicas see
  // this one leave at once) and stops.
  asio::awaitable<void> Stop();
  void SetDraining(bool draining);

  const std::string& replica_id() const { return replica_id_; }
  const std::string& cluster_name() const { return cluster_name_; }
  // Any thread.
  std::vector<wire::v1::Replica> Replicas() const;
  std::vector<cluster::ReplicaRecord> Records() const;
  bool lease_valid() const;

  // Any executor. !ok(): retryable (etcd unreachable, lease unconfirmed).
  asio::awaitable<absl::StatusOr<cluster::ClaimResult>> Claim(uint16_t port,
                                                              const std::string& owner);
  asio::awaitable<absl::StatusOr<cluster::ClaimResult>> PickFree(
      uint16_t first, uint16_t last, const std::string& owner,
      const std::function<bool(uint16_t)>& usable);
  asio::awaitable<absl::Status> Release(uint16_t port);
  // Any thread: may this replica serve `port` right now.
  bool ServingAllowed(uint16_t port) const;

 private:
  ClusterNode() = default;

  asio::any_io_executor control_;
  std::string replica_id_;
  std::string cluster_name_;
  std::chrono::seconds ttl_{10};
  Callbacks callbacks_;
  std::unique_ptr<cluster::etcd::EtcdClient> client_;
  std::unique_ptr<cluster::Strand> strand_;
  std::shared_ptr<cluster::LeaseSession> lease_;
  std::shared_ptr<cluster::Membership> membership_;
  std::shared_ptr<cluster::PortClaims> claims_;
};

}  // namespace reitunnel::server
