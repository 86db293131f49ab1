#include "server/cluster/port_claims.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asio/experimental/as_tuple.hpp"
#include "asio/co_spawn.hpp"
#include "asio/use_awaitable.hpp"
#include "common/log/log.h"
#include "common/net/spawn.h"
#include "server/cluster/etcd/keys.h"
#include "server/cluster/replica_record.h"

namespace reitunnel::cluster {
namespace {

constexpr std::chrono::milliseconds kRetryMin{200};
constexpr std::chrono::milliseconds kRetryMax{2000};
// Ports tried per scan in PickFree before scanning again.
constexpr int kPicksPerScan = 4;

std::chrono::milliseconds Jitter(int attempt) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_int_distribution<int> ms(1, 5 * (attempt + 1));
  return std::chrono::milliseconds(ms(rng));
}

}  // namespace

// An asynchronous mutex per port: claims, releases and re-claims of one port
// on this replica happen one after the other. Waiters park on a timer that
// UnlockPort cancels; ownership passes to the first waiter directly.
struct PortClaims::PortLock {
  bool held = false;
  std::deque<asio::steady_timer*> waiters;
};

namespace {

class PortGuard {
 public:
  PortGuard(std::function<void()> unlock) : unlock_(std::move(unlock)) {}
  ~PortGuard() { unlock_(); }
  PortGuard(const PortGuard&) = delete;
  PortGuard& operator=(const PortGuard&) = delete;

 private:
  std::function<void()> unlock_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<PortClaims>> PortClaims::Create(etcd::EtcdClient& client,
                                                               std::shared_ptr<LeaseSession> lease,
                                                               PortClaimsOptions options,
                                                               Listener listener) {
  if (!IsValidKeySegment(options.replica_id)) {
    return absl::InvalidArgumentError("replica id must be 1-128 characters of A-Z a-z 0-9 . _ -");
  }
  if (!IsValidKeySegment(options.cluster_name)) {
    return absl::InvalidArgumentError("cluster name must be 1-128 characters of A-Z a-z 0-9 . _ -");
  }
  if (options.max_attempts < 1) options.max_attempts = 1;
  return std::shared_ptr<PortClaims>(
      new PortClaims(client, std::move(lease), std::move(options), std::move(listener)));
}

PortClaims::PortClaims(etcd::EtcdClient& client, std::shared_ptr<LeaseSession> lease,
                       PortClaimsOptions options, Listener listener)
    : client_(client),
      lease_(std::move(lease)),
      strand_(lease_->strand()),
      options_(std::move(options)),
      keys_(options_.cluster_name),
      listener_(std::move(listener)),
      reclaim_timer_(strand_),
      release_timer_(strand_) {}

PortClaims::~PortClaims() {
  if (mirror_) mirror_->Stop();
}

void PortClaims::Start() {
  stopped_ = false;
  lease_->AddObserver(this);
  if (options_.watch_cluster) {
    auto weak = weak_from_this();
    mirror_ = PrefixMirror::Create(
        client_, strand_, keys_.PortsPrefix(),
        [weak](const std::string& key, const mvccpb::KeyValue* before,
               const mvccpb::KeyValue* after) {
          if (auto self = weak.lock()) self->OnMirrorChange(key, before, after);
        });
    mirror_->Start();
  }
}

void PortClaims::Stop() {
  stopped_ = true;
  lease_->RemoveObserver(this);
  if (mirror_) {
    mirror_->Stop();
    mirror_.reset();
  }
  reclaim_timer_.cancel();
  release_timer_.cancel();
  absl::MutexLock lock(&mu_);
  serving_lease_.clear();
}

absl::Status PortClaims::Unavailable(std::string_view why) const {
  return absl::UnavailableError(
      absl::StrCat("cluster port claims unavailable: ", std::string(why), "; retry later"));
}

// --- public entry points: hop onto the strand ------------------------------------

asio::awaitable<absl::StatusOr<ClaimResult>> PortClaims::Claim(uint16_t port, std::string owner) {
  auto self = shared_from_this();
  // Named, not temporaries inside co_await (GCC 12 may destroy those twice).
  auto claim = asio::co_spawn(strand_, ClaimOnStrand(port, std::move(owner)), asio::use_awaitable);
  co_return co_await std::move(claim);
}

asio::awaitable<absl::StatusOr<ClaimResult>> PortClaims::PickFree(
    uint16_t first, uint16_t last, std::string owner, std::function<bool(uint16_t)> usable) {
  auto self = shared_from_this();
  auto pick = asio::co_spawn(
      strand_, PickFreeOnStrand(first, last, std::move(owner), std::move(usable)),
      asio::use_awaitable);
  co_return co_await std::move(pick);
}

asio::awaitable<absl::Status> PortClaims::Release(uint16_t port) {
  auto self = shared_from_this();
  auto release = asio::co_spawn(strand_, ReleaseOnStrand(port), asio::use_awaitable);
  co_return co_await std::move(release);
}

bool PortClaims::ServingAllowed(uint16_t port) const {
  int64_t lease_id = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = serving_lease_.find(port);
    if (it == serving_lease_.end()) return false;
    lease_id = it->second;
  }
  return lease_id != 0 && lease_id == lease_->lease_id() && lease_->ValidNow();
}

std::map<uint16_t, std::string> PortClaims::LocalClaims() const {
  absl::MutexLock lock(&mu_);
  return local_owners_;
}

std::map<uint16_t, std::map<std::string, std::string>> PortClaims::ClusterClaims() const {
  absl::MutexLock lock(&mu_);
  return cluster_;
}

// --- per-port lock ------------------------------------------------------------------

asio::awaitable<void> PortClaims::LockPort(uint16_t port) {
  auto& slot = locks_[port];
  if (!slot) slot = std::make_unique<PortLock>();
  PortLock* lock = slot.get();
  if (!lock->held) {
    lock->held = true;
    co_return;
  }
  asio::steady_timer wake(strand_, asio::steady_timer::time_point::max());
  lock->waiters.push_back(&wake);
  co_await wake.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  // UnlockPort handed the lock over to us.
}

void PortClaims::UnlockPort(uint16_t port) {
  auto it = locks_.find(port);
  if (it == locks_.end()) return;
  PortLock* lock = it->second.get();
  if (lock->waiters.empty()) {
    locks_.erase(it);
    return;
  }
  asio::steady_timer* next = lock->waiters.front();
  lock->waiters.pop_front();
  next->cancel();
}

// --- claims -------------------------------------------------------------------------

asio::awaitable<absl::StatusOr<ClaimResult>> PortClaims::ClaimOnStrand(uint16_t port,
                                                                       std::string owner,
                                                                       bool fresh) {
  if (port == 0) co_return absl::InvalidArgumentError("port 0 cannot be claimed");
  if (owner.empty()) co_return absl::InvalidArgumentError("empty port owner");
  if (stopped_) co_return Unavailable("replica is stopping");
  co_await LockPort(port);
  PortGuard guard([this, port] { UnlockPort(port); });

  const int64_t lease_id = lease_->lease_id();
  if (lease_id == 0 || !lease_->ValidNow()) {
    co_return Unavailable("no confirmed etcd lease (etcd unreachable?)");
  }
  if (auto it = entries_.find(port); it != entries_.end()) {
    if (fresh || it->second.owner != owner) co_return ClaimResult{false, port, it->second.owner};
    if (it->second.lease_id == lease_id) co_return ClaimResult{true, port, ""};
  }
  auto result = co_await ClaimInEtcd(port, owner, lease_id, fresh);
  if (!result.ok() || !result->claimed) co_return result;
  pending_release_.erase(port);
  Entry& entry = entries_[port];
  entry.owner = owner;
  entry.lease_id = lease_id;
  Publish(port);
  if (lease_id != lease_->lease_id()) ScheduleReclaim();
  co_return result;
}

asio::awaitable<absl::StatusOr<ClaimResult>> PortClaims::ClaimInEtcd(uint16_t port,
                                                                     const std::string& owner,
                                                                     int64_t lease_id, bool fresh) {
  const std::string range_key = keys_.PortPrefix(port);
  const std::string range_end = etcd::PrefixRangeEnd(range_key);
  const std::string own_key = keys_.HolderKey(port, options_.replica_id);
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    etcdserverpb::RangeRequest read;
    read.set_key(range_key);
    read.set_range_end(range_end);
    auto holders = co_await client_.Range(read);
    if (!holders.ok()) co_return holders.status();
    const int64_t read_revision = holders->header().revision();
    for (const mvccpb::KeyValue& kv : holders->kvs()) {
      if (kv.key() == own_key) {
        // Released here but not yet deleted: ours to overwrite.
        if (pending_release_.count(port)) continue;
        if (kv.lease() != lease_id) {
          co_return Unavailable(absl::StrCat(
              "port ", port, " is held under replica id ", options_.replica_id,
              " by another lease (a previous process with this id?) until it expires"));
        }
      }
      if (fresh || kv.value() != owner) co_return ClaimResult{false, port, kv.value()};
    }

    // Nothing in the range may have been created or changed since the read.
    etcdserverpb::TxnRequest txn;
    auto* unchanged = txn.add_compare();
    unchanged->set_key(range_key);
    unchanged->set_range_end(range_end);
    unchanged->set_target(etcdserverpb::Compare::MOD);
    unchanged->set_result(etcdserverpb::Compare::LESS);
    unchanged->set_mod_revision(read_revision + 1);
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(own_key);
    put->set_value(owner);
    put->set_lease(lease_id);
    auto committed = co_await client_.Txn(txn);
    if (!committed.ok()) {
      if (absl::IsNotFound(committed.status())) {
        co_return Unavailable("the etcd lease was lost");
      }
      co_return committed.status();
    }
    if (committed->succeeded()) co_return ClaimResult{true, port, ""};

    asio::steady_timer pause(strand_, Jitter(attempt));
    co_await pause.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  co_return Unavailable(absl::StrCat("port ", port, " is contended"));
}

asio::awaitable<absl::StatusOr<ClaimResult>> PortClaims::PickFreeOnStrand(
    uint16_t first, uint16_t last, std::string owner, std::function<bool(uint16_t)> usable) {
  if (first == 0 || first > last) co_return absl::InvalidArgumentError("bad port range");
  if (owner.empty()) co_return absl::InvalidArgumentError("empty port owner");
  thread_local std::minstd_rand rng{std::random_device{}()};
  for (int round = 0; round < options_.max_attempts; ++round) {
    if (stopped_) co_return Unavailable("replica is stopping");
    if (lease_->lease_id() == 0 || !lease_->ValidNow()) {
      co_return Unavailable("no confirmed etcd lease (etcd unreachable?)");
    }
    etcdserverpb::RangeRequest scan;
    scan.set_key(keys_.PortsPrefix());
    scan.set_range_end(etcd::PrefixRangeEnd(keys_.PortsPrefix()));
    scan.set_keys_only(true);
    auto held = co_await client_.Range(scan);
    if (!held.ok()) co_return held.status();
    std::set<uint16_t> taken;
    for (const mvccpb::KeyValue& kv : held->kvs()) {
      if (auto holder = keys_.HolderOf(kv.key())) taken.insert(holder->port);
    }
    std::vector<uint16_t> candidates;
    for (uint32_t p = first; p <= last; ++p) {
      const auto port = static_cast<uint16_t>(p);
      if (taken.count(port) || entries_.count(port) || pending_release_.count(port)) continue;
      if (usable && !usable(port)) continue;
      candidates.push_back(port);
    }
    if (candidates.empty()) {
      co_return absl::ResourceExhaustedError(
          absl::StrCat("no port free in the cluster in ", first, "-", last));
    }
    const size_t start = std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(rng);
    const size_t tries = std::min<size_t>(kPicksPerScan, candidates.size());
    for (size_t i = 0; i < tries; ++i) {
      const uint16_t port = candidates[(start + i) % candidates.size()];
      auto claim = ClaimOnStrand(port, owner, /*fresh=*/true);
      auto result = co_await std::move(claim);
      if (!result.ok() || result->claimed) co_return result;
    }
  }
  co_return Unavailable("free ports are contended");
}

asio::awaitable<absl::Status> PortClaims::ReleaseOnStrand(uint16_t port) {
  co_await LockPort(port);
  PortGuard guard([this, port] { UnlockPort(port); });
  auto it = entries_.find(port);
  if (it == entries_.end()) co_return absl::OkStatus();
  entries_.erase(it);
  {
    absl::MutexLock lock(&mu_);
    serving_lease_.erase(port);
    local_owners_.erase(port);
  }
  pending_release_.insert(port);
  etcdserverpb::DeleteRangeRequest request;
  request.set_key(keys_.HolderKey(port, options_.replica_id));
  auto deleted = co_await client_.DeleteRange(request);
  if (deleted.ok()) {
    pending_release_.erase(port);
  } else {
    log::Warn("cluster_release_deferred", "cannot delete a port claim yet; retrying in the background",
              {{"port", static_cast<unsigned>(port)}, {"error", std::string(deleted.status().message())}});
    ScheduleRelease();
  }
  co_return absl::OkStatus();
}

// --- lease changes, background re-claims and releases ------------------------------

void PortClaims::OnLeaseGranted(int64_t) {
  // Keys under the old lease are gone with it, including unreleased ones.
  pending_release_.clear();
  PublishAll();
  ScheduleReclaim();
}

void PortClaims::OnLeaseValidity(bool valid) {
  PublishAll();
  if (valid) ScheduleReclaim();
}

void PortClaims::ScheduleReclaim() {
  if (reclaiming_ || stopped_) return;
  reclaiming_ = true;
  net::Spawn(strand_, ReclaimLoop(), "cluster_port_reclaim");
}

asio::awaitable<void> PortClaims::ReclaimLoop() {
  auto self = shared_from_this();
  auto backoff = kRetryMin;
  while (!stopped_) {
    const int64_t lease_id = lease_->lease_id();
    if (lease_id == 0 || !lease_->ValidNow()) break;  // lease events restart us
    std::vector<uint16_t> stale;
    for (const auto& [port, entry] : entries_) {
      if (entry.lease_id != lease_id) stale.push_back(port);
    }
    if (stale.empty()) break;
    bool failed = false;
    for (uint16_t port : stale) {
      if (stopped_) break;
      co_await LockPort(port);
      PortGuard guard([this, port] { UnlockPort(port); });
      auto it = entries_.find(port);
      if (it == entries_.end() || it->second.lease_id == lease_id) continue;
      const std::string owner = it->second.owner;
      auto result = co_await ClaimInEtcd(port, owner, lease_id);
      it = entries_.find(port);
      if (it == entries_.end()) continue;
      if (!result.ok()) {
        failed = true;
        log::Warn("cluster_reclaim_failed", "cannot re-claim a port yet; retrying",
                  {{"port", static_cast<unsigned>(port)}, {"error", std::string(result.status().message())}});
        continue;
      }
      if (result->claimed) {
        it->second.lease_id = lease_id;
        Publish(port);
        log::Info("cluster_port_reclaimed", "port claim renewed under the current lease",
                  {{"port", static_cast<unsigned>(port)}});
        continue;
      }
      const bool was_serving = it->second.notified;
      entries_.erase(it);
      Publish(port);
      if (was_serving && listener_.on_serving_changed) listener_.on_serving_changed(port, false);
      log::Warn("cluster_port_lost", "port was taken by another owner while this replica's lease "
                "was lost", {{"port", static_cast<unsigned>(port)}});
      if (listener_.on_claim_lost) {
        listener_.on_claim_lost(port, owner,
                                absl::AlreadyExistsError(absl::StrCat(
                                    "port ", port, " is now in use by another agent")));
      }
    }
    if (!failed) continue;  // re-check: the lease may have changed meanwhile
    reclaim_timer_.expires_after(backoff);
    backoff = std::min(backoff * 2, kRetryMax);
    co_await reclaim_timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  reclaiming_ = false;
}

void PortClaims::ScheduleRelease() {
  if (releasing_ || stopped_) return;
  releasing_ = true;
  net::Spawn(strand_, ReleaseLoop(), "cluster_port_release");
}

asio::awaitable<void> PortClaims::ReleaseLoop() {
  auto self = shared_from_this();
  auto backoff = kRetryMin;
  while (!stopped_ && !pending_release_.empty()) {
    release_timer_.expires_after(backoff);
    backoff = std::min(backoff * 2, kRetryMax);
    co_await release_timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    std::vector<uint16_t> ports(pending_release_.begin(), pending_release_.end());
    for (uint16_t port : ports) {
      if (stopped_) break;
      co_await LockPort(port);
      PortGuard guard([this, port] { UnlockPort(port); });
      if (!pending_release_.count(port)) continue;
      etcdserverpb::DeleteRangeRequest request;
      request.set_key(keys_.HolderKey(port, options_.replica_id));
      auto deleted = co_await client_.DeleteRange(request);
      if (deleted.ok()) pending_release_.erase(port);
    }
  }
  releasing_ = false;
}

// --- serving snapshots --------------------------------------------------------------

void PortClaims::Publish(uint16_t port) {
  auto it = entries_.find(port);
  {
    absl::MutexLock lock(&mu_);
    if (it == entries_.end()) {
      serving_lease_.erase(port);
      local_owners_.erase(port);
    } else {
      serving_lease_[port] = it->second.lease_id;
      local_owners_[port] = it->second.owner;
    }
  }
  if (it == entries_.end()) return;
  const bool allowed = it->second.lease_id != 0 && it->second.lease_id == lease_->lease_id() &&
                       lease_->ValidNow();
  if (allowed == it->second.notified) return;
  it->second.notified = allowed;
  if (listener_.on_serving_changed) listener_.on_serving_changed(port, allowed);
}

void PortClaims::PublishAll() {
  std::vector<uint16_t> ports;
  ports.reserve(entries_.size());
  for (const auto& [port, entry] : entries_) ports.push_back(port);
  for (uint16_t port : ports) Publish(port);
}

void PortClaims::OnMirrorChange(const std::string& key, const mvccpb::KeyValue*,
                                const mvccpb::KeyValue* after) {
  auto holder = keys_.HolderOf(key);
  if (!holder) return;
  {
    absl::MutexLock lock(&mu_);
    if (after != nullptr) {
      cluster_[holder->port][holder->replica_id] = after->value();
    } else if (auto it = cluster_.find(holder->port); it != cluster_.end()) {
      it->second.erase(holder->replica_id);
      if (it->second.empty()) cluster_.erase(it);
    }
  }
  if (holder->replica_id != options_.replica_id) return;
  auto it = entries_.find(holder->port);
  if (it == entries_.end() || it->second.lease_id == 0 ||
      it->second.lease_id != lease_->lease_id()) {
    return;  // not a confirmed claim (being claimed, re-claimed or released)
  }
  const bool intact =
      after != nullptr && after->value() == it->second.owner && after->lease() == it->second.lease_id;
  if (intact) return;
  log::Warn("cluster_claim_key_changed",
            "this replica's port claim left etcd (lease expired or revoked, or changed by "
            "hand); stopping and claiming again",
            {{"port", static_cast<unsigned>(holder->port)}});
  it->second.lease_id = 0;
  Publish(holder->port);
  ScheduleReclaim();
}

}  // namespace reitunnel::cluster
