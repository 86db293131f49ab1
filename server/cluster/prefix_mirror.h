#pragma once

// A local copy of every key under an etcd prefix, kept current: one Range,
// then a Watch from the revision after it. When the watch reports
// compaction the range is read again and only the differences are
// reported, then watching resumes from the new revision.
//
// Start, Stop, entries() and the callback live on `strand`.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "asio/awaitable.hpp"
#include "asio/steady_timer.hpp"
#include "etcd/mvcc/mvccpb/kv.pb.h"
#include "server/cluster/etcd/etcd_client.h"
#include "server/cluster/etcd/strand.h"
#include "server/cluster/etcd/watcher.h"

namespace reitunnel::cluster {

class PrefixMirror : public std::enable_shared_from_this<PrefixMirror> {
 public:
  // before/after are null for a created/deleted key; valid during the call.
  using OnChange = std::function<void(const std::string& key, const mvccpb::KeyValue* before,
                                      const mvccpb::KeyValue* after)>;

  static std::shared_ptr<PrefixMirror> Create(etcd::EtcdClient& client, Strand strand,
                                              std::string prefix, OnChange on_change);
  ~PrefixMirror();

  void Start();
  void Stop();

  const std::map<std::string, mvccpb::KeyValue>& entries() const { return entries_; }
  // True once the first Range was applied.
  bool synced() const { return synced_; }
  const std::string& prefix() const { return prefix_; }

 private:
  PrefixMirror(etcd::EtcdClient& client, Strand strand, std::string prefix, OnChange on_change);

  asio::awaitable<void> Sync();
  void StartWatch(int64_t from_revision);
  void Apply(const std::string& key, const mvccpb::KeyValue* after);

  etcd::EtcdClient& client_;
  const Strand strand_;
  const std::string prefix_;
  const OnChange on_change_;
  asio::steady_timer retry_timer_;
  std::unique_ptr<etcd::Watcher> watcher_;
  std::map<std::string, mvccpb::KeyValue> entries_;
  bool stopped_ = true;
  bool syncing_ = false;
  bool synced_ = false;
};

}  // namespace reitunnel::cluster
