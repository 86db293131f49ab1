#pragma once

// Cluster-wide public port claims: at no moment may two different agents be
// served on the same public port by different replicas.
//
// Ownership lives in etcd as one holder key per serving replica,
//   NAME/ports/<port>/<replica_id> = <owner>   (bound to that replica's lease)
// and nothing else: the set of holder keys of a port IS its ownership.
//
// Invariant (I): at every etcd revision, all holder keys of a port carry the
// same owner.
//   Claim(P, X) reads the range NAME/ports/P/ at revision r. If some holder
//   has another owner it answers "in use". Otherwise it commits a Txn whose
//   compare says "every key in NAME/ports/P/ has mod_revision < r + 1"
//   (Compare with range_end, etcd >= 3.3; an empty range passes) and whose
//   success branch puts its own holder key = X with its lease. The Txn is
//   applied atomically at some revision t > r. If it succeeds, every key in
//   the range at t is unchanged since r (a re-created key would have a new
//   mod_revision), so it held X at r; after the put all keys hold X. Keys
//   only ever leave the range otherwise (release, lease expiry), which
//   cannot break (I). Two racing owners: whichever Txn commits second sees
//   the first one's key with mod_revision > its read revision and fails,
//   re-reads, and answers "in use".
//
// Serving rule (S): a replica serves port P for X only while (a) its Txn put
// its holder key under its current lease and (b) that lease is surely alive
// by the local clock (LeaseSession::ValidNow: last keepalive *send* time +
// TTL - margin). etcd deletes the key no earlier than the lease's expiry,
// which is no earlier than that instant, and another owner's Txn can only
// succeed after the deletion. So when another agent can first be served
// elsewhere, this replica has already stopped. ServingAllowed() evaluates
// (a) and (b) at the moment it is called, so it also holds right after this
// process was frozen and its timers are late: check it before serving each
// visitor, and close listeners on on_serving_changed(port, false).
//
// After a lost lease (etcd answered TTL <= 0) the keys are gone; every
// claimed port is claimed again under the new lease and may now be refused
// (another owner took it meanwhile): on_claim_lost.
//
// etcd unreachable: ports keep being served until the lease may have
// expired; new claims fail with UNAVAILABLE (retryable).
//
// Start/Stop and the listener run on the LeaseSession's strand. Claim,
// PickFree and Release are awaitables callable from any executor;
// ServingAllowed and ClusterClaims from any thread.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "asio/awaitable.hpp"
#include "asio/steady_timer.hpp"
#include "server/cluster/cluster_keys.h"
#include "server/cluster/etcd/etcd_client.h"
#include "server/cluster/etcd/strand.h"
#include "server/cluster/lease_session.h"
#include "server/cluster/prefix_mirror.h"

namespace reitunnel::cluster {

struct PortClaimsOptions {
  std::string cluster_name = "reitunnel";
  std::string replica_id;
  // Read-then-Txn rounds before a contended claim gives up (UNAVAILABLE).
  int max_attempts = 8;
  // Keep a watch of NAME/ports/ for ClusterClaims() and to notice a holder
  // key deleted behind our back.
  bool watch_cluster = true;
};

struct ClaimResult {
  bool claimed = false;
  uint16_t port = 0;
  // When !claimed: the owner that holds the port, for logs (another agent's
  // identity; not for the refused agent).
  std::string held_by;
};

class PortClaims final : public std::enable_shared_from_this<PortClaims>,
                   private LeaseSession::Observer {
 public:
  struct Listener {
    // Serving `port` became allowed or disallowed (lease validity, re-claim).
    std::function<void(uint16_t port, bool allowed)> on_serving_changed;
    // A claim could not be renewed after a lease loss, or its key was taken
    // away: the port is no longer ours; close that tunnel on this replica.
    std::function<void(uint16_t port, const std::string& owner, const absl::Status& why)>
        on_claim_lost;
  };

  static absl::StatusOr<std::shared_ptr<PortClaims>> Create(etcd::EtcdClient& client,
                                                            std::shared_ptr<LeaseSession> lease,
                                                            PortClaimsOptions options,
                                                            Listener listener);
  ~PortClaims();

  void Start();
  void Stop();

  // Claims `port` for `owner` on this replica. Idempotent for the same
  // owner, so the owner must identify one tunnel of one agent connection
  // (e.g. agent id + instance id + tunnel name): two tunnels sharing an
  // owner could share a port. !ok(): retryable trouble (UNAVAILABLE: etcd unreachable, lease
  // not confirmed, contention; DEADLINE_EXCEEDED).
  asio::awaitable<absl::StatusOr<ClaimResult>> Claim(uint16_t port, std::string owner);

  // Claims a port of [first, last] that no replica holds for anyone (not
  // even for `owner`: two port-0 tunnels never share a port), starting at a
  // random one; `usable` (optional, called on the strand) can veto ports
  // this host cannot bind. RESOURCE_EXHAUSTED when none is free.
  asio::awaitable<absl::StatusOr<ClaimResult>> PickFree(uint16_t first, uint16_t last,
                                                        std::string owner,
                                                        std::function<bool(uint16_t)> usable = {});

  // Stops serving at once, then deletes the holder key (retried in the
  // background while etcd is unreachable).
  asio::awaitable<absl::Status> Release(uint16_t port);

  // (S) for one port, evaluated now.
  bool ServingAllowed(uint16_t port) const;
  // Ports this replica claimed (serving or waiting for a re-claim).
  std::map<uint16_t, std::string> LocalClaims() const;
  // From the watch: port -> replica id -> owner.
  std::map<uint16_t, std::map<std::string, std::string>> ClusterClaims() const;

 private:
  struct Entry {
    std::string owner;
    int64_t lease_id = 0;     // lease its holder key was put under; 0: none
    bool notified = false;    // what on_serving_changed last said
  };
  struct PortLock;

  PortClaims(etcd::EtcdClient& client, std::shared_ptr<LeaseSession> lease,
             PortClaimsOptions options, Listener listener);

  void OnLeaseGranted(int64_t lease_id) override;
  void OnLeaseValidity(bool valid) override;
  void OnMirrorChange(const std::string& key, const mvccpb::KeyValue* before,
                      const mvccpb::KeyValue* after);

  // fresh: only a port nobody holds, not even `owner` (PickFree).
  asio::awaitable<absl::StatusOr<ClaimResult>> ClaimOnStrand(uint16_t port, std::string owner,
                                                             bool fresh = false);
  asio::awaitable<absl::StatusOr<ClaimResult>> PickFreeOnStrand(uint16_t first, uint16_t last,
                                                                std::string owner,
                                                                std::function<bool(uint16_t)> usable);
  asio::awaitable<absl::Status> ReleaseOnStrand(uint16_t port);
  // One read + Txn round trip pair (repeated on conflicts).
  asio::awaitable<absl::StatusOr<ClaimResult>> ClaimInEtcd(uint16_t port, const std::string& owner,
                                                           int64_t lease_id, bool fresh = false);
  asio::awaitable<void> ReclaimLoop();
  asio::awaitable<void> ReleaseLoop();
  asio::awaitable<void> LockPort(uint16_t port);
  void UnlockPort(uint16_t port);

  void Publish(uint16_t port);  // serving snapshot + notification for one port
  void PublishAll();
  void ScheduleReclaim();
  void ScheduleRelease();
  absl::Status Unavailable(std::string_view why) const;

  etcd::EtcdClient& client_;
  const std::shared_ptr<LeaseSession> lease_;
  const Strand strand_;
  const PortClaimsOptions options_;
  const ClusterKeys keys_;
  const Listener listener_;
  std::shared_ptr<PrefixMirror> mirror_;
  bool stopped_ = true;

  // Strand state.
  std::map<uint16_t, Entry> entries_;
  std::set<uint16_t> pending_release_;  // released locally, key not yet deleted
  absl::flat_hash_map<uint16_t, std::unique_ptr<PortLock>> locks_;
  bool reclaiming_ = false;
  bool releasing_ = false;
  asio::steady_timer reclaim_timer_;
  asio::steady_timer release_timer_;

  // Snapshots for other threads.
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint16_t, int64_t> serving_lease_ ABSL_GUARDED_BY(mu_);
  std::map<uint16_t, std::string> local_owners_ ABSL_GUARDED_BY(mu_);
  std::map<uint16_t, std::map<std::string, std::string>> cluster_ ABSL_GUARDED_BY(mu_);
};

}  // namespace reitunnel::cluster
