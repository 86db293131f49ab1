#include "server/cluster/membership.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/experimental/as_tuple.hpp"
#include "asio/post.hpp"
#include "asio/use_awaitable.hpp"
#include "common/log/log.h"
#include "common/net/spawn.h"
#include "google/protobuf/util/message_differencer.h"

namespace reitunnel::cluster {
namespace {

constexpr std::chrono::milliseconds kMinBackoff{200};
constexpr std::chrono::milliseconds kMaxBackoff{2000};

}  // namespace

absl::StatusOr<std::shared_ptr<Membership>> Membership::Create(
    etcd::EtcdClient& client, std::shared_ptr<LeaseSession> lease, std::string cluster_name,
    ReplicaRecord self, OnChange on_change) {
  if (!IsValidKeySegment(self.replica_id())) {
    return absl::InvalidArgumentError(
        "replica id must be 1-128 characters of A-Z a-z 0-9 . _ -");
  }
  if (!IsValidKeySegment(cluster_name)) {
    return absl::InvalidArgumentError(
        "cluster name must be 1-128 characters of A-Z a-z 0-9 . _ -");
  }
  return std::shared_ptr<Membership>(new Membership(client, std::move(lease),
                                                    ClusterKeys(std::move(cluster_name)),
                                                    std::move(self), std::move(on_change)));
}

Membership::Membership(etcd::EtcdClient& client, std::shared_ptr<LeaseSession> lease,
                       ClusterKeys keys, ReplicaRecord self, OnChange on_change)
    : client_(client),
      lease_(std::move(lease)),
      strand_(lease_->strand()),
      keys_(std::move(keys)),
      on_change_(std::move(on_change)),
      self_(std::move(self)),
      retry_timer_(strand_) {}

Membership::~Membership() {
  if (mirror_) mirror_->Stop();
}

void Membership::Start() {
  stopped_ = false;
  lease_->AddObserver(this);
  auto weak = weak_from_this();
  mirror_ = PrefixMirror::Create(
      client_, strand_, keys_.ReplicasPrefix(),
      [weak](const std::string& key, const mvccpb::KeyValue* before, const mvccpb::KeyValue* after) {
        if (auto self = weak.lock()) self->OnMirrorChange(key, before, after);
      });
  mirror_->Start();
  if (lease_->lease_id() != 0) MarkDirty();
}

void Membership::Stop() {
  stopped_ = true;
  lease_->RemoveObserver(this);
  if (mirror_) {
    mirror_->Stop();
    mirror_.reset();
  }
  retry_timer_.cancel();
}

void Membership::SetDraining(bool draining) {
  asio::post(strand_, [self = shared_from_this(), draining] {
    if (self->self_.draining() == draining) return;
    self->self_.set_draining(draining);
    self->MarkDirty();
  });
}

std::vector<ReplicaRecord> Membership::Replicas() const {
  absl::MutexLock lock(&mu_);
  std::vector<ReplicaRecord> out;
  out.reserve(replicas_.size());
  for (const auto& [id, record] : replicas_) out.push_back(record);
  return out;
}

bool Membership::Registered() const {
  absl::MutexLock lock(&mu_);
  return registered_;
}

void Membership::SetRegistered(bool registered) {
  absl::MutexLock lock(&mu_);
  registered_ = registered;
}

void Membership::OnLeaseGranted(int64_t) {
  registered_lease_ = 0;
  SetRegistered(false);
  MarkDirty();
}

void Membership::OnLeaseValidity(bool) {}

void Membership::OnMirrorChange(const std::string& key, const mvccpb::KeyValue* before,
                                const mvccpb::KeyValue* after) {
  auto id = keys_.ReplicaIdOf(key);
  if (!id) return;
  ReplicaRecord record;
  if (after != nullptr) {
    auto decoded = DecodeReplicaRecord(after->value());
    if (decoded.ok()) {
      record = *std::move(decoded);
    } else {
      log::Warn("cluster_bad_replica_record", "ignoring the unreadable fields of a replica record",
                {{"replica_id", *id}, {"error", std::string(decoded.status().message())}});
    }
    record.set_replica_id(*id);  // the key is authoritative
  }
  Change change;
  {
    absl::MutexLock lock(&mu_);
    auto it = replicas_.find(*id);
    if (after == nullptr) {
      if (it == replicas_.end()) return;
      record = it->second;
      replicas_.erase(it);
      change = Change::kLeft;
    } else if (it == replicas_.end()) {
      replicas_.emplace(*id, record);
      change = Change::kJoined;
    } else {
      if (google::protobuf::util::MessageDifferencer::Equals(it->second, record)) return;
      it->second = record;
      change = Change::kChanged;
    }
  }
  if (*id == self_.replica_id() && after == nullptr && registered_lease_ != 0 &&
      registered_lease_ == lease_->lease_id()) {
    // Our record vanished while our lease lives (someone deleted it).
    log::Warn("cluster_replica_key_deleted", "this replica's record was deleted; writing it again",
              {{"replica_id", *id}});
    registered_lease_ = 0;
    SetRegistered(false);
    MarkDirty();
  }
  (void)before;
  if (on_change_) on_change_(change, record);
}

void Membership::MarkDirty() {
  dirty_ = true;
  if (registering_ || stopped_) return;
  registering_ = true;
  net::Spawn(strand_, RegisterLoop(), "cluster_register");
}

asio::awaitable<void> Membership::RegisterLoop() {
  auto self = shared_from_this();
  auto backoff = kMinBackoff;
  while (dirty_ && !stopped_) {
    dirty_ = false;
    const int64_t lease_id = lease_->lease_id();
    if (lease_id == 0) break;  // OnLeaseGranted marks us dirty again
    absl::Status status = co_await RegisterOnce(lease_id);
    if (stopped_) break;
    if (status.ok()) {
      backoff = kMinBackoff;
      if (lease_id == lease_->lease_id()) {
        registered_lease_ = lease_id;
        SetRegistered(true);
        log::Info("cluster_registered", "replica registered in the cluster",
                  {{"replica_id", self_.replica_id()}, {"lease_id", static_cast<long long>(lease_id)}});
      }
      continue;
    }
    log::Warn("cluster_register_failed", "cannot register this replica, retrying",
              {{"replica_id", self_.replica_id()}, {"error", std::string(status.message())}});
    dirty_ = true;
    retry_timer_.expires_after(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
    co_await retry_timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  registering_ = false;
}

asio::awaitable<absl::Status> Membership::RegisterOnce(int64_t lease_id) {
  const std::string key = keys_.ReplicaKey(self_.replica_id());
  const std::string value = EncodeReplicaRecord(self_);

  // Create it if absent; else look at who holds it.
  etcdserverpb::TxnRequest create;
  auto* absent = create.add_compare();
  absent->set_key(key);
  absent->set_target(etcdserverpb::Compare::CREATE);
  absent->set_result(etcdserverpb::Compare::EQUAL);
  absent->set_create_revision(0);
  auto* put = create.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease_id);
  create.add_failure()->mutable_request_range()->set_key(key);
  auto created = co_await client_.Txn(create);
  if (!created.ok()) co_return created.status();
  if (created->succeeded()) co_return absl::OkStatus();

  const auto& ranged = created->responses(0).response_range();
  if (ranged.kvs_size() == 0) co_return absl::UnavailableError("replica key vanished; retrying");
  const mvccpb::KeyValue& existing = ranged.kvs(0);
  if (existing.lease() != lease_id) {
    co_return absl::AlreadyExistsError(absl::StrCat(
        "replica id \"", self_.replica_id(),
        "\" is registered by another live process (another lease); waiting for it to expire"));
  }
  // Ours: update it unless it changed meanwhile.
  etcdserverpb::TxnRequest update;
  auto* same = update.add_compare();
  same->set_key(key);
  same->set_target(etcdserverpb::Compare::MOD);
  same->set_result(etcdserverpb::Compare::EQUAL);
  same->set_mod_revision(existing.mod_revision());
  auto* put_again = update.add_success()->mutable_request_put();
  put_again->set_key(key);
  put_again->set_value(value);
  put_again->set_lease(lease_id);
  auto updated = co_await client_.Txn(update);
  if (!updated.ok()) co_return updated.status();
  if (!updated->succeeded()) co_return absl::AbortedError("replica key changed meanwhile; retrying");
  co_return absl::OkStatus();
}

}  // namespace reitunnel::cluster
