#pragma once

// The routing table of --http-listen / --sni-listen: hostname -> the tunnel
// that serves it.
//
// Matching (following frp's vhost router): an exact name beats any wildcard;
// "*.example.com" matches every name below example.com at any depth
// ("a.example.com", "a.b.example.com") but not "example.com" itself; among
// wildcards the longest suffix wins, so for "a.b.example.com" the order is
// a.b.example.com, *.b.example.com, *.example.com, *.com.
//
// Ownership: a pattern belongs to one owner at a time (an opaque string the
// server picks, e.g. "<session>/<tunnel>"); another owner's claim fails with
// "hostname already in use" and never learns who holds it.
//
// Concurrency: the table is split into kShards immutable shards (by hash of
// the name). Claim/Release copy one shard under a writer mutex and publish
// the copy, so a claim costs O(table size / kShards); claims are rare
// anyway (tunnel open/close, reconnect storms). Each worker thread
// holds a Reader: its Lookup reads one atomic generation counter and, while
// the table is unchanged, nothing else shared, so it never waits for a claim
// in progress. After a change its next Lookup refreshes its snapshot under a
// mutex held only for copying kShards pointers. (Not
// std::atomic<std::shared_ptr>: ThreadSanitizer reports a data race inside
// GCC 12's implementation of it.) HostRouter::Lookup takes that mutex on
// every call: fine for tests and rare paths, not per connection.
//
// Values are copied out of the table; a snapshot (or a Reader's cache) keeps
// released values alive until no lookup uses it, so store ids or weak_ptrs,
// not owning pointers, when a value's lifetime matters.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/hostname/hostname.h"
#include "server/vhost/host_pattern.h"

namespace reitunnel::server::vhost {

template <typename Value>
class HostRouter {
 public:
  static constexpr size_t kShards = 32;

 private:
  struct Entry {
    std::string owner;
    Value value;
  };
  // Entries are shared between snapshots, so copying a shard copies keys and
  // pointers, not values.
  using Map = absl::flat_hash_map<std::string, std::shared_ptr<const Entry>>;
  struct Shard {
    Map exact;
    Map wildcard;  // keyed by the suffix after "*."
  };
  using Shards = std::array<std::shared_ptr<const Shard>, kShards>;

 public:
  HostRouter() {
    auto empty = std::make_shared<const Shard>();
    shards_.fill(empty);
  }
  HostRouter(const HostRouter&) = delete;
  HostRouter& operator=(const HostRouter&) = delete;

  // Claims `pattern` for `owner`. The same owner claiming again replaces the
  // value. InvalidArgument for a bad pattern, AlreadyExists when another
  // owner holds it.
  absl::Status Claim(std::string_view pattern, std::string_view owner, Value value) {
    absl::StatusOr<HostPattern> p = ParseHostPattern(pattern);
    if (!p.ok()) return p.status();
    std::lock_guard<std::mutex> lock(writer_mu_);
    size_t index = ShardOf(p->name);
    const Shard& current = *shards_[index];  // only writers change shards_
    const Map& map = p->wildcard ? current.wildcard : current.exact;
    auto it = map.find(p->name);
    if (it != map.end() && it->second->owner != owner) {
      return absl::AlreadyExistsError("hostname already in use");
    }
    auto next = std::make_shared<Shard>(current);
    (p->wildcard ? next->wildcard : next->exact)[p->name] =
        std::make_shared<const Entry>(Entry{std::string(owner), std::move(value)});
    Publish(index, std::move(next));
    return absl::OkStatus();
  }

  // NotFound unless `owner` holds `pattern`.
  absl::Status Release(std::string_view pattern, std::string_view owner) {
    absl::StatusOr<HostPattern> p = ParseHostPattern(pattern);
    if (!p.ok()) return p.status();
    std::lock_guard<std::mutex> lock(writer_mu_);
    size_t index = ShardOf(p->name);
    const Shard& current = *shards_[index];
    const Map& map = p->wildcard ? current.wildcard : current.exact;
    auto it = map.find(p->name);
    if (it == map.end() || it->second->owner != owner) {
      return absl::NotFoundError("hostname not claimed by this tunnel");
    }
    auto next = std::make_shared<Shard>(current);
    (p->wildcard ? next->wildcard : next->exact).erase(p->name);
    Publish(index, std::move(next));
    return absl::OkStatus();
  }

  // Releases every pattern `owner` holds (its session ended); returns how many.
  size_t ReleaseAll(std::string_view owner) {
    std::lock_guard<std::mutex> lock(writer_mu_);
    size_t removed = 0;
    auto owned = [&](const auto& kv) { return kv.second->owner == owner; };
    for (size_t i = 0; i < kShards; ++i) {
      const Shard& current = *shards_[i];
      size_t here = 0;
      for (const auto& kv : current.exact) here += owned(kv);
      for (const auto& kv : current.wildcard) here += owned(kv);
      if (here == 0) continue;
      auto next = std::make_shared<Shard>(current);
      absl::erase_if(next->exact, owned);
      absl::erase_if(next->wildcard, owned);
      Publish(i, std::move(next));
      removed += here;
    }
    return removed;
  }

  // The value of the most specific pattern matching `host` (any case, one
  // trailing dot allowed), or nullopt. Invalid host names match nothing.
  // Holds a mutex for the lookup; per-connection lookups go through a Reader.
  std::optional<Value> Lookup(std::string_view host) const {
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    return Find(shards_, host);
  }

  // True when someone holds exactly `pattern` (not: a pattern matching it).
  bool IsClaimed(std::string_view pattern) const {
    absl::StatusOr<HostPattern> p = ParseHostPattern(pattern);
    if (!p.ok()) return false;
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    return Probe(shards_, p->wildcard, p->name) != nullptr;
  }

  // Number of claimed patterns.
  size_t size() const {
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    size_t n = 0;
    for (const auto& shard : shards_) n += shard->exact.size() + shard->wildcard.size();
    return n;
  }

  // A per-thread lookup handle: caches the snapshot and refreshes it only
  // when the router's generation changes. Not thread-safe itself; must not
  // outlive the router.
  class Reader {
   public:
    explicit Reader(const HostRouter& router) : router_(&router) {}
    std::optional<Value> Lookup(std::string_view host) {
      if (!loaded_ || router_->generation_.load(std::memory_order_acquire) != generation_) {
        snapshot_ = router_->Snapshot(&generation_);
        loaded_ = true;
      }
      return Find(snapshot_, host);
    }

   private:
    const HostRouter* router_;
    Shards snapshot_;
    uint64_t generation_ = 0;
    bool loaded_ = false;
  };

 private:
  static size_t ShardOf(std::string_view name) {
    return absl::Hash<absl::string_view>{}(absl::string_view(name.data(), name.size())) % kShards;
  }

  static const Entry* Probe(const Shards& shards, bool wildcard, std::string_view key) {
    const Shard& shard = *shards[ShardOf(key)];
    const Map& map = wildcard ? shard.wildcard : shard.exact;
    auto it = map.find(absl::string_view(key.data(), key.size()));
    return it == map.end() ? nullptr : it->second.get();
  }

  static std::optional<Value> Find(const Shards& shards, std::string_view host) {
    std::optional<std::string> normalized;
    if (!hostname::IsCanonical(host)) {
      normalized = hostname::Normalize(host);
      if (!normalized) return std::nullopt;
      host = *normalized;
    }
    if (const Entry* e = Probe(shards, false, host)) return e->value;
    // Longest suffix first: the most specific wildcard wins.
    for (size_t dot = host.find('.'); dot != std::string_view::npos;
         dot = host.find('.', dot + 1)) {
      if (const Entry* e = Probe(shards, true, host.substr(dot + 1))) return e->value;
    }
    return std::nullopt;
  }

  // Called with writer_mu_ held.
  void Publish(size_t index, std::shared_ptr<const Shard> next) {
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    shards_[index] = std::move(next);
    generation_.store(generation_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  // The current shards and their generation (a consistent pair, read under
  // the same lock).
  Shards Snapshot(uint64_t* generation) const {
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    *generation = generation_.load(std::memory_order_relaxed);
    return shards_;
  }

  std::mutex writer_mu_;  // serializes Claim/Release, held while copying a shard
  // Guards shards_ against Publish; writers read shards_ under writer_mu_
  // alone. Held for pointer copies and HostRouter::Lookup only.
  mutable std::mutex snapshot_mu_;
  Shards shards_;
  std::atomic<uint64_t> generation_{0};  // bumped by every Publish
};

}  // namespace reitunnel::server::vhost
