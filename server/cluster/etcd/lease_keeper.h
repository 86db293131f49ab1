#pragma once

// Keeps one etcd lease alive over a LeaseKeepAlive stream: a request every
// `interval`, each answer reported with the time its request was sent (the
// lease is alive at least until sent_at + TTL, whatever the network delay).
// A broken or silent stream is replaced (next endpoint, fresh token) with
// backoff; an answer with TTL <= 0 means etcd no longer has the lease.
//
// Start, Stop and destruction happen on `strand`, where every callback runs;
// no callback runs after Stop().

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "server/cluster/etcd/etcd_client.h"
#include "server/cluster/etcd/strand.h"

namespace reitunnel::cluster::etcd {

class LeaseKeeper {
 public:
  struct Renewal {
    int64_t ttl_seconds = 0;
    std::chrono::steady_clock::time_point sent_at;
  };
  struct Callbacks {
    std::function<void(const Renewal&)> on_renewed;
    // etcd answered TTL <= 0: the lease expired or was revoked. The keeper
    // has stopped.
    std::function<void()> on_expired;
    // The stream broke or stayed silent; the keeper is reconnecting.
    std::function<void(const absl::Status&)> on_stream_error;
  };

  // Requests unanswered on one stream before it is considered stuck.
  static constexpr size_t kMaxUnanswered = 3;

  LeaseKeeper(EtcdClient& client, Strand strand, int64_t lease_id,
              std::chrono::milliseconds interval, Callbacks callbacks);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  void Start();
  void Stop();

  int64_t lease_id() const;

 private:
  class State;
  std::shared_ptr<State> state_;
};

}  // namespace reitunnel::cluster::etcd
