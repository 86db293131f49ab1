#pragma once

// Operator bans that outlive a kick or a close: the same agent identity (or
// the same tunnel name of that agent) is refused until the ban expires or is
// removed. Thread-safe; bans live in memory (a restart clears them).

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace reitunnel::server {

struct Ban {
  // The agent identity (AgentIdentity()) banned.
  std::string identity;
  // Empty: the whole agent; else only this tunnel name of the agent.
  std::string tunnel_name;
  std::string reason;
  std::chrono::system_clock::time_point until;
  std::chrono::system_clock::time_point created = std::chrono::system_clock::now();
};

class Bans {
 public:
  using Clock = std::chrono::system_clock;

  // Adds or extends a ban.
  void Add(Ban ban);
  // The active ban on the agent / on one of its tunnels, if any.
  std::optional<Ban> ForAgent(const std::string& identity) const;
  std::optional<Ban> ForTunnel(const std::string& identity, const std::string& name) const;
  // Active bans, oldest first.
  std::vector<Ban> List() const;
  // Removes the ban on (identity, tunnel_name); false if there was none.
  bool Remove(const std::string& identity, const std::string& tunnel_name);

  // For tests.
  void set_clock_for_testing(Clock::time_point (*now)()) { now_ = now; }

 private:
  void Expire() const;  // mu_ held

  mutable std::mutex mu_;
  mutable std::vector<Ban> bans_;
  Clock::time_point (*now_)() = &Clock::now;
};

}  // namespace reitunnel::server
