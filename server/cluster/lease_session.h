#pragma once

// This replica's etcd lease: granted, kept alive, replaced when lost, and
// judged locally so the replica knows when etcd might already have expired
// it, even while etcd is out of reach.
//
// etcd extends a lease to (time it handles a keepalive) + TTL. That moment
// is after we sent the keepalive, so the lease is surely alive until
//   sent_at + TTL - safety_margin
// by our monotonic clock (the margin covers clock-rate differences and the
// time the server needs to act). ValidNow() compares against that instant
// directly, so it is right even if this process was frozen and its timers
// are late. When etcd answers a keepalive with TTL <= 0 the lease is gone
// (and with it every key bound to it): a new one is granted and observers
// told to write their keys again.
//
// Start, Stop and observers live on `strand`; ValidNow() and lease_id() may
// be called from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "asio/awaitable.hpp"
#include "asio/steady_timer.hpp"
#include "server/cluster/etcd/etcd_client.h"
#include "server/cluster/etcd/lease_keeper.h"
#include "server/cluster/etcd/strand.h"

namespace reitunnel::cluster {

struct LeaseSessionOptions {
  std::chrono::seconds ttl{10};
  // 0: a third of the granted TTL.
  std::chrono::milliseconds keepalive_interval{0};
  // 0: a fifth of the granted TTL, at least 200 ms.
  std::chrono::milliseconds safety_margin{0};
};

class LeaseSession : public std::enable_shared_from_this<LeaseSession> {
 public:
  class Observer {
   public:
    // A new lease: the first, or one replacing a lost lease (keys bound to
    // the old one are gone). Valid from now on.
    virtual void OnLeaseGranted(int64_t lease_id) = 0;
    // The current lease went from surely alive to possibly expired
    // (valid = false) or back after a late keepalive answer.
    virtual void OnLeaseValidity(bool valid) = 0;

   protected:
    ~Observer() = default;
  };

  using Clock = std::chrono::steady_clock;

  static std::shared_ptr<LeaseSession> Create(etcd::EtcdClient& client, Strand strand,
                                              LeaseSessionOptions options);
  ~LeaseSession();

  void AddObserver(Observer* observer);
  void RemoveObserver(Observer* observer);
  void Start();
  void Stop();
  // Revokes the lease (deleting every key bound to it at once, so other
  // replicas see this one leave immediately) and stops. For shutdown.
  asio::awaitable<absl::Status> RevokeAndStop();

  // 0 while there is none.
  int64_t lease_id() const { return lease_id_.load(); }
  bool ValidNow() const;
  Clock::time_point valid_until() const;
  std::chrono::seconds granted_ttl() const { return granted_ttl_; }
  const Strand& strand() const { return strand_; }

 private:
  LeaseSession(etcd::EtcdClient& client, Strand strand, LeaseSessionOptions options);

  asio::awaitable<void> GrantLoop();
  asio::awaitable<int64_t> StopOnStrand();
  void OnGranted(int64_t id, std::chrono::seconds ttl, Clock::time_point sent_at);
  void Extend(Clock::time_point sent_at, int64_t ttl_seconds);
  void ArmExpiryTimer();
  void SetValid(bool valid);
  void OnExpired();
  std::chrono::milliseconds Margin() const;

  etcd::EtcdClient& client_;
  const Strand strand_;
  const LeaseSessionOptions options_;
  std::vector<Observer*> observers_;
  std::unique_ptr<etcd::LeaseKeeper> keeper_;
  asio::steady_timer expiry_timer_;
  asio::steady_timer retry_timer_;
  bool stopped_ = true;
  bool granting_ = false;
  bool valid_ = false;  // what observers were last told
  std::chrono::seconds granted_ttl_{0};
  std::atomic<int64_t> lease_id_{0};
  std::atomic<int64_t> valid_until_ns_{0};  // Clock epoch; 0: not valid
};

}  // namespace reitunnel::cluster
