#include "server/registry/bans.h"

#include <algorithm>

namespace reitunnel::server {

void Bans::Expire() const {
  auto now = now_();
  bans_.erase(std::remove_if(bans_.begin(), bans_.end(), [now](const Ban& b) { return b.until <= now; }),
              bans_.end());
}

void Bans::Add(Ban ban) {
  std::lock_guard<std::mutex> l(mu_);
  Expire();
  for (auto& b : bans_) {
    if (b.identity == ban.identity && b.tunnel_name == ban.tunnel_name) {
      b.until = std::max(b.until, ban.until);
      b.reason = ban.reason;
      return;
    }
  }
  bans_.push_back(std::move(ban));
}

std::optional<Ban> Bans::ForAgent(const std::string& identity) const {
  std::lock_guard<std::mutex> l(mu_);
  Expire();
  for (const auto& b : bans_) {
    if (b.identity == identity && b.tunnel_name.empty()) return b;
  }
  return std::nullopt;
}

std::optional<Ban> Bans::ForTunnel(const std::string& identity, const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  Expire();
  for (const auto& b : bans_) {
    if (b.identity == identity && (b.tunnel_name.empty() || b.tunnel_name == name)) return b;
  }
  return std::nullopt;
}

std::vector<Ban> Bans::List() const {
  std::lock_guard<std::mutex> l(mu_);
  Expire();
  return bans_;
}

bool Bans::Remove(const std::string& identity, const std::string& tunnel_name) {
  std::lock_guard<std::mutex> l(mu_);
  Expire();  // an expired ban is gone: removing it reports NOT_FOUND
  auto it = std::find_if(bans_.begin(), bans_.end(), [&](const Ban& b) {
    return b.identity == identity && b.tunnel_name == tunnel_name;
  });
  if (it == bans_.end()) return false;
  bans_.erase(it);
  return true;
}

}  // namespace reitunnel::server
