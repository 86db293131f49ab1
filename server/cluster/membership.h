#pragma once

// Cluster membership: this replica's record at NAME/replicas/<id>, bound to
// its lease (written again whenever a new lease replaces a lost one, or if
// the key vanishes while the lease lives), and the live replica set from a
// watch of NAME/replicas/.
//
// A replica id registered by another live process (a different lease) is
// not overwritten: registration retries until that lease expires, so two
// processes never share an id (their port claims would mix up).
//
// Start/Stop and the callback run on `strand`; Replicas(), Registered() and
// SetDraining() may be called from any thread.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "asio/awaitable.hpp"
#include "asio/steady_timer.hpp"
#include "server/cluster/cluster_keys.h"
#include "server/cluster/etcd/etcd_client.h"
#include "server/cluster/etcd/strand.h"
#include "server/cluster/lease_session.h"
#include "server/cluster/prefix_mirror.h"
#include "server/cluster/replica_record.h"

namespace reitunnel::cluster {

class Membership final : public std::enable_shared_from_this<Membership>,
                   private LeaseSession::Observer {
 public:
  enum class Change { kJoined, kLeft, kChanged };
  // On the strand; `replica` is the new record (the last known one for kLeft).
  using OnChange = std::function<void(Change change, const ReplicaRecord& replica)>;

  // self.replica_id must satisfy IsValidKeySegment.
  static absl::StatusOr<std::shared_ptr<Membership>> Create(etcd::EtcdClient& client,
                                                            std::shared_ptr<LeaseSession> lease,
                                                            std::string cluster_name,
                                                            ReplicaRecord self, OnChange on_change);
  ~Membership();

  void Start();
  void Stop();

  // Updates this replica's record (asynchronously).
  void SetDraining(bool draining);

  // Live replicas (this one included once registered), by id.
  std::vector<ReplicaRecord> Replicas() const;
  // This replica's record is written under its current lease.
  bool Registered() const;

 private:
  Membership(etcd::EtcdClient& client, std::shared_ptr<LeaseSession> lease, ClusterKeys keys,
             ReplicaRecord self, OnChange on_change);

  void OnLeaseGranted(int64_t lease_id) override;
  void OnLeaseValidity(bool valid) override;
  void OnMirrorChange(const std::string& key, const mvccpb::KeyValue* before,
                      const mvccpb::KeyValue* after);
  void MarkDirty();
  asio::awaitable<void> RegisterLoop();
  asio::awaitable<absl::Status> RegisterOnce(int64_t lease_id);
  void SetRegistered(bool registered);

  etcd::EtcdClient& client_;
  const std::shared_ptr<LeaseSession> lease_;
  const Strand strand_;
  const ClusterKeys keys_;
  const OnChange on_change_;
  ReplicaRecord self_;
  std::shared_ptr<PrefixMirror> mirror_;
  asio::steady_timer retry_timer_;
  bool stopped_ = true;
  bool dirty_ = false;
  bool registering_ = false;
  int64_t registered_lease_ = 0;

  mutable absl::Mutex mu_;
  std::map<std::string, ReplicaRecord> replicas_ ABSL_GUARDED_BY(mu_);
  bool registered_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace reitunnel::cluster
