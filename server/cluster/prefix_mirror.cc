#include "server/cluster/prefix_mirror.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "asio/experimental/as_tuple.hpp"
#include "asio/use_awaitable.hpp"
#include "common/log/log.h"
#include "common/net/spawn.h"
#include "server/cluster/etcd/keys.h"

namespace reitunnel::cluster {
namespace {

constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};

}  // namespace

std::shared_ptr<PrefixMirror> PrefixMirror::Create(etcd::EtcdClient& client, Strand strand,
                                                   std::string prefix, OnChange on_change) {
  return std::shared_ptr<PrefixMirror>(
      new PrefixMirror(client, std::move(strand), std::move(prefix), std::move(on_change)));
}

PrefixMirror::PrefixMirror(etcd::EtcdClient& client, Strand strand, std::string prefix,
                           OnChange on_change)
    : client_(client),
      strand_(std::move(strand)),
      prefix_(std::move(prefix)),
      on_change_(std::move(on_change)),
      retry_timer_(strand_) {}

PrefixMirror::~PrefixMirror() {
  if (watcher_) watcher_->Stop();
}

void PrefixMirror::Start() {
  stopped_ = false;
  if (!syncing_) {
    syncing_ = true;
    net::Spawn(strand_, Sync(), "cluster_prefix_sync");
  }
}

void PrefixMirror::Stop() {
  stopped_ = true;
  if (watcher_) {
    watcher_->Stop();
    watcher_.reset();
  }
  retry_timer_.cancel();
}

asio::awaitable<void> PrefixMirror::Sync() {
  auto self = shared_from_this();
  auto backoff = kMinBackoff;
  while (!stopped_) {
    etcdserverpb::RangeRequest request;
    request.set_key(prefix_);
    request.set_range_end(etcd::PrefixRangeEnd(prefix_));
    auto response = co_await client_.Range(request);
    if (stopped_) break;
    if (response.ok()) {
      std::map<std::string, mvccpb::KeyValue> fresh;
      for (auto& kv : *response->mutable_kvs()) {
        std::string key = kv.key();
        fresh.emplace(std::move(key), std::move(kv));
      }
      std::vector<std::string> gone;
      for (const auto& [key, kv] : entries_) {
        if (!fresh.count(key)) gone.push_back(key);
      }
      for (const std::string& key : gone) Apply(key, nullptr);
      for (const auto& [key, kv] : fresh) {
        auto it = entries_.find(key);
        if (it == entries_.end() || it->second.mod_revision() != kv.mod_revision()) Apply(key, &kv);
      }
      synced_ = true;
      if (!stopped_) StartWatch(response->header().revision() + 1);
      break;
    }
    log::Warn("cluster_sync_failed", "cannot read cluster state from etcd, retrying",
              {{"prefix", prefix_}, {"error", std::string(response.status().message())}});
    retry_timer_.expires_after(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
    co_await retry_timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  syncing_ = false;
}

void PrefixMirror::StartWatch(int64_t from_revision) {
  etcd::Watcher::Callbacks callbacks;
  auto weak = weak_from_this();
  callbacks.on_events = [weak](const etcdserverpb::WatchResponse& response) {
    auto self = weak.lock();
    if (!self || self->stopped_) return;
    for (const mvccpb::Event& event : response.events()) {
      if (event.type() == mvccpb::Event::PUT) {
        self->Apply(event.kv().key(), &event.kv());
      } else {
        self->Apply(event.kv().key(), nullptr);
      }
      if (self->stopped_) return;
    }
  };
  callbacks.on_compacted = [weak](int64_t compact_revision) {
    auto self = weak.lock();
    if (!self || self->stopped_) return;
    log::Info("cluster_watch_compacted", "etcd compacted past our watch; re-reading",
              {{"prefix", self->prefix_}, {"compact_revision", static_cast<long long>(compact_revision)}});
    self->watcher_.reset();
    self->Start();
  };
  callbacks.on_stream_error = [weak](const absl::Status& status) {
    auto self = weak.lock();
    if (!self) return;
    log::Warn("cluster_watch_error", "etcd watch stream failed, resuming",
              {{"prefix", self->prefix_}, {"error", std::string(status.message())}});
  };
  watcher_ = std::make_unique<etcd::Watcher>(client_, strand_, prefix_, etcd::PrefixRangeEnd(prefix_),
                                             from_revision, std::move(callbacks));
  watcher_->Start();
}

void PrefixMirror::Apply(const std::string& key, const mvccpb::KeyValue* after) {
  auto it = entries_.find(key);
  mvccpb::KeyValue before;
  const bool had = it != entries_.end();
  if (had) before = it->second;
  if (after == nullptr) {
    if (!had) return;
    entries_.erase(it);
  } else {
    entries_[key] = *after;
  }
  if (on_change_) on_change_(key, had ? &before : nullptr, after);
}

}  // namespace reitunnel::cluster
