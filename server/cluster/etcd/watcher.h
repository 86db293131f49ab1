#pragma once

// Watches a key range over a Watch stream, delivering events in revision
// order. A broken stream is resumed (next endpoint, fresh token, backoff)
// from the revision after the last one delivered, so nothing is missed or
// repeated. If etcd compacted that revision away the watcher stops and says
// so: the owner must re-read the range and start a new watcher.
//
// Start, Stop and destruction happen on `strand`, where every callback runs;
// no callback runs after Stop().

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "server/cluster/etcd/etcd_client.h"
#include "server/cluster/etcd/strand.h"

namespace reitunnel::cluster::etcd {

class Watcher {
 public:
  struct Callbacks {
    // A response with at least one event (prev_kv is filled in).
    std::function<void(const etcdserverpb::WatchResponse&)> on_events;
    // The revision to resume from is compacted; the watcher has stopped.
    std::function<void(int64_t compact_revision)> on_compacted;
    // The stream broke or etcd refused it; the watcher is resuming.
    std::function<void(const absl::Status&)> on_stream_error;
  };

  // start_revision 0: from the current revision on.
  Watcher(EtcdClient& client, Strand strand, std::string key, std::string range_end,
          int64_t start_revision, Callbacks callbacks);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  void Start();
  void Stop();

  // The first revision not yet delivered (0 until known).
  int64_t next_revision() const;

 private:
  class State;
  std::shared_ptr<State> state_;
};

}  // namespace reitunnel::cluster::etcd
