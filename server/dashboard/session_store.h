#pragma once

// Dashboard login sessions. A login exchanges the admin token for a random
// session id carried in an HttpOnly cookie; the store keeps only SHA-256 of
// each id (a memory dump or a log line with the table shows nothing a
// browser could present), with an absolute expiry and a CSRF token. Bounded:
// past `max_sessions` the session closest to expiry goes. Thread-safe.

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace reitunnel::server::dashboard {

struct SessionOptions {
  std::chrono::seconds ttl{8 * 3600};
  size_t max_sessions = 256;
};

class SessionStore {
 public:
  using Clock = std::chrono::system_clock;
  explicit SessionStore(SessionOptions o = {}, std::function<Clock::time_point()> now = Clock::now)
      : o_(o), now_(std::move(now)) {}

  struct Session {
    std::string csrf_token;
    Clock::time_point expires_at;
  };
  struct Created {
    std::string id;  // the cookie value; not kept by the store
    Session session;
  };
  Created Create();
  // The live session with this cookie value, if any.
  std::optional<Session> Find(std::string_view id);
  void Revoke(std::string_view id);
  size_t size();

  std::chrono::seconds ttl() const { return o_.ttl; }

 private:
  void ExpireLocked(Clock::time_point now);

  SessionOptions o_;
  std::function<Clock::time_point()> now_;
  std::mutex mu_;
  std::unordered_map<std::string, Session> sessions_;  // by SHA-256 of the id
};

}  // namespace reitunnel::server::dashboard
