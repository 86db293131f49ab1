#include "server/dashboard/session_store.h"

#include <openssl/sha.h>

#include <algorithm>

#include "common/wire/auth.h"

namespace reitunnel::server::dashboard {

namespace {

// Session ids are 64 hex digits; anything else is not one of ours.
constexpr size_t kIdBytes = 32;

std::string Digest(std::string_view id) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(id.data()), id.size(), md);
  return std::string(reinterpret_cast<const char*>(md), sizeof(md));
}

}  // namespace

SessionStore::Created SessionStore::Create() {
  Created c;
  c.id = wire::RandomId(kIdBytes);
  c.session.csrf_token = wire::RandomId(16);
  Clock::time_point now = now_();
  c.session.expires_at = now + o_.ttl;
  std::lock_guard<std::mutex> l(mu_);
  ExpireLocked(now);
  while (!sessions_.empty() && sessions_.size() >= o_.max_sessions) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](auto& a, auto& b) {
      return a.second.expires_at < b.second.expires_at;
    });
    sessions_.erase(oldest);
  }
  sessions_[Digest(c.id)] = c.session;
  return c;
}

std::optional<SessionStore::Session> SessionStore::Find(std::string_view id) {
  if (id.size() != 2 * kIdBytes) return std::nullopt;
  std::string key = Digest(id);
  Clock::time_point now = now_();
  std::lock_guard<std::mutex> l(mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires_at <= now) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void SessionStore::Revoke(std::string_view id) {
  std::string key = Digest(id);
  std::lock_guard<std::mutex> l(mu_);
  sessions_.erase(key);
}

size_t SessionStore::size() {
  std::lock_guard<std::mutex> l(mu_);
  ExpireLocked(now_());
  return sessions_.size();
}

void SessionStore::ExpireLocked(Clock::time_point now) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second.expires_at <= now ? sessions_.erase(it) : std::next(it);
  }
}

}  // namespace reitunnel::server::dashboard
