#include "server/cluster/lease_session.h"

#include <algorithm>
#include <utility>

#include "asio/experimental/as_tuple.hpp"
#include "asio/use_awaitable.hpp"
#include "common/log/log.h"
#include "common/net/spawn.h"

namespace reitunnel::cluster {
namespace {

constexpr std::chrono::milliseconds kMinBackoff{200};
constexpr std::chrono::milliseconds kMaxBackoff{2000};

int64_t ToNs(LeaseSession::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::shared_ptr<LeaseSession> LeaseSession::Create(etcd::EtcdClient& client, Strand strand,
                                                   LeaseSessionOptions options) {
  return std::shared_ptr<LeaseSession>(new LeaseSession(client, std::move(strand), options));
}

LeaseSession::LeaseSession(etcd::EtcdClient& client, Strand strand, LeaseSessionOptions options)
    : client_(client),
      strand_(std::move(strand)),
      options_(options),
      expiry_timer_(strand_),
      retry_timer_(strand_) {}

LeaseSession::~LeaseSession() {
  if (keeper_) keeper_->Stop();
}

void LeaseSession::AddObserver(Observer* observer) { observers_.push_back(observer); }

void LeaseSession::RemoveObserver(Observer* observer) {
  observers_.erase(std::remove(observers_.begin(), observers_.end(), observer), observers_.end());
}

bool LeaseSession::ValidNow() const {
  const int64_t until = valid_until_ns_.load();
  return until != 0 && ToNs(Clock::now()) < until;
}

LeaseSession::Clock::time_point LeaseSession::valid_until() const {
  return Clock::time_point(std::chrono::nanoseconds(valid_until_ns_.load()));
}

std::chrono::milliseconds LeaseSession::Margin() const {
  if (options_.safety_margin > std::chrono::milliseconds::zero()) return options_.safety_margin;
  auto margin = std::chrono::duration_cast<std::chrono::milliseconds>(granted_ttl_) / 5;
  return std::max(margin, std::chrono::milliseconds(200));
}

void LeaseSession::Start() {
  stopped_ = false;
  if (!granting_) {
    granting_ = true;
    net::Spawn(strand_, GrantLoop(), "cluster_lease_grant");
  }
}

void LeaseSession::Stop() {
  stopped_ = true;
  if (keeper_) {
    keeper_->Stop();
    keeper_.reset();
  }
  expiry_timer_.cancel();
  retry_timer_.cancel();
  SetValid(false);
}

asio::awaitable<int64_t> LeaseSession::StopOnStrand() {
  const int64_t id = lease_id_.load();
  Stop();
  lease_id_.store(0);
  co_return id;
}

asio::awaitable<absl::Status> LeaseSession::RevokeAndStop() {
  auto self = shared_from_this();
  // Named, not a temporary inside co_await: GCC 12 may destroy such
  // temporaries twice.
  auto stop = asio::co_spawn(strand_, StopOnStrand(), asio::use_awaitable);
  const int64_t id = co_await std::move(stop);
  if (id == 0) co_return absl::OkStatus();
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(id);
  auto response = co_await client_.LeaseRevoke(request);
  co_return response.ok() ? absl::OkStatus() : response.status();
}

asio::awaitable<void> LeaseSession::GrantLoop() {
  auto self = shared_from_this();
  auto backoff = kMinBackoff;
  while (!stopped_) {
    etcdserverpb::LeaseGrantRequest request;
    request.set_ttl(options_.ttl.count());
    const Clock::time_point sent_at = Clock::now();
    auto response = co_await client_.LeaseGrant(request);
    if (stopped_) break;
    if (response.ok() && response->error().empty() && response->id() != 0) {
      OnGranted(response->id(), std::chrono::seconds(response->ttl()), sent_at);
      break;
    }
    log::Warn("cluster_lease_grant_failed", "cannot get an etcd lease, retrying",
              {{"error", response.ok() ? response->error() : std::string(response.status().message())}});
    retry_timer_.expires_after(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
    co_await retry_timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  granting_ = false;
}

void LeaseSession::OnGranted(int64_t id, std::chrono::seconds ttl, Clock::time_point sent_at) {
  granted_ttl_ = ttl;
  lease_id_.store(id);
  valid_until_ns_.store(ToNs(sent_at + ttl - Margin()));
  ArmExpiryTimer();
  log::Info("cluster_lease_granted", "etcd lease granted",
            {{"lease_id", static_cast<long long>(id)}, {"ttl_s", static_cast<long long>(ttl.count())}});

  auto interval = options_.keepalive_interval > std::chrono::milliseconds::zero()
                      ? options_.keepalive_interval
                      : std::chrono::duration_cast<std::chrono::milliseconds>(ttl) / 3;
  interval = std::max(interval, std::chrono::milliseconds(100));
  etcd::LeaseKeeper::Callbacks callbacks;
  auto weak = weak_from_this();
  callbacks.on_renewed = [weak](const etcd::LeaseKeeper::Renewal& renewal) {
    if (auto self = weak.lock()) self->Extend(renewal.sent_at, renewal.ttl_seconds);
  };
  callbacks.on_expired = [weak] {
    if (auto self = weak.lock()) self->OnExpired();
  };
  callbacks.on_stream_error = [](const absl::Status& status) {
    log::Warn("cluster_lease_keepalive_error", "etcd lease keepalive stream failed, reconnecting",
              {{"error", std::string(status.message())}});
  };
  keeper_ = std::make_unique<etcd::LeaseKeeper>(client_, strand_, id, interval, std::move(callbacks));
  keeper_->Start();

  // Observers hear of the new lease, not of a validity change: what was
  // bound to the old lease must be written again either way.
  valid_ = ValidNow();
  for (Observer* observer : std::vector<Observer*>(observers_)) observer->OnLeaseGranted(id);
}

void LeaseSession::Extend(Clock::time_point sent_at, int64_t ttl_seconds) {
  const Clock::time_point until = sent_at + std::chrono::seconds(ttl_seconds) - Margin();
  if (ToNs(until) > valid_until_ns_.load()) valid_until_ns_.store(ToNs(until));
  ArmExpiryTimer();
  if (ValidNow()) SetValid(true);
}

void LeaseSession::ArmExpiryTimer() {
  expiry_timer_.expires_at(valid_until());
  expiry_timer_.async_wait([weak = weak_from_this()](std::error_code ec) {
    if (ec) return;
    auto self = weak.lock();
    if (!self || self->stopped_) return;
    if (!self->ValidNow()) {
      log::Warn("cluster_lease_possibly_lost",
                "no etcd keepalive answer in time: the lease may have expired",
                {{"lease_id", static_cast<long long>(self->lease_id_.load())}});
      self->SetValid(false);
    } else {
      self->ArmExpiryTimer();
    }
  });
}

void LeaseSession::SetValid(bool valid) {
  if (valid_ == valid) return;
  valid_ = valid;
  if (valid) {
    log::Info("cluster_lease_confirmed", "etcd lease confirmed alive again",
              {{"lease_id", static_cast<long long>(lease_id_.load())}});
  }
  for (Observer* observer : std::vector<Observer*>(observers_)) observer->OnLeaseValidity(valid);
}

void LeaseSession::OnExpired() {
  log::Warn("cluster_lease_lost", "etcd no longer has the lease; requesting a new one",
            {{"lease_id", static_cast<long long>(lease_id_.load())}});
  keeper_.reset();
  valid_until_ns_.store(0);
  expiry_timer_.cancel();
  SetValid(false);
  lease_id_.store(0);
  Start();
}

}  // namespace reitunnel::cluster
