#include "server/auth/auth_throttle.h"

#include <algorithm>

namespace reitunnel::server {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::chrono::milliseconds AuthThrottle::BlockedFor(const std::string& ip) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(ip);
  if (it == entries_.end()) return milliseconds(0);
  auto now = now_();
  if (it->second.blocked_until <= now) return milliseconds(0);
  return duration_cast<milliseconds>(it->second.blocked_until - now) + milliseconds(1);
}

std::chrono::milliseconds AuthThrottle::RecordFailure(const std::string& ip) {
  failures_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> l(mu_);
  auto now = now_();
  if (entries_.size() >= o_.max_sources && !entries_.count(ip)) Evict(now);
  Entry& e = entries_[ip];
  e.last_seen = now;
  if (now - e.window_start > o_.window) {
    e.window_start = now;
    e.failures = 0;
  }
  if (++e.failures < o_.max_failures) return milliseconds(0);
  e.failures = 0;
  e.window_start = now;
  milliseconds block = o_.first_block * (int64_t{1} << std::min<uint32_t>(e.blocks, 16));
  block = std::min(block, o_.max_block);
  ++e.blocks;
  e.blocked_until = now + block;
  return block;
}

void AuthThrottle::RecordSuccess(const std::string& ip) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(ip);
  // A success forgives recent failures but not an active block (the block
  // is checked before the proof, so a success cannot happen during one).
  if (it != entries_.end() && it->second.blocked_until <= now_()) entries_.erase(it);
}

void AuthThrottle::Evict(Clock::time_point now) {
  // Drop entries that no longer matter; if none, the least recently seen.
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.blocked_until <= now && now - it->second.last_seen > o_.window) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  if (entries_.size() < o_.max_sources) return;
  auto oldest = std::min_element(entries_.begin(), entries_.end(), [](auto& a, auto& b) {
    return a.second.last_seen < b.second.last_seen;
  });
  if (oldest != entries_.end()) entries_.erase(oldest);
}

}  // namespace reitunnel::server
