#include "server/registry/session_registry.h"

#include <algorithm>

namespace reitunnel::server {

const char* StateName(RequestedTunnel::State s) {
  switch (s) {
    case RequestedTunnel::State::kPending: return "pending";
    case RequestedTunnel::State::kOpen: return "open";
    case RequestedTunnel::State::kRefused: return "refused";
    case RequestedTunnel::State::kClosed: return "closed";
  }
  return "unknown";
}

absl::Status SessionRegistry::TryAdd(std::shared_ptr<SessionEntry> entry, size_t max_agents,
                                     std::shared_ptr<SessionEntry>* replaced) {
  std::lock_guard<std::mutex> l(mu_);
  std::string id = entry->info.client_id;
  auto it = sessions_.find(id);
  if (it == sessions_.end() && sessions_.size() >= max_agents) {
    return absl::ResourceExhaustedError("server has reached its agent limit");
  }
  if (it != sessions_.end()) {
    if (replaced) *replaced = it->second.entry;
    auto old_ip = it->second.entry->info.remote_ip;
    if (--per_ip_[old_ip] <= 0) per_ip_.erase(old_ip);
  }
  per_ip_[entry->info.remote_ip]++;
  Record& r = sessions_[id];
  r = Record();
  r.entry = std::move(entry);
  return absl::OkStatus();
}

SessionRegistry::Record* SessionRegistry::FindRecord(const SessionEntry& entry) {
  auto it = sessions_.find(entry.info.client_id);
  if (it == sessions_.end() || it->second.entry.get() != &entry) return nullptr;
  return &it->second;
}

void SessionRegistry::Remove(const SessionEntry& entry) {
  std::function<void()> notify;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = sessions_.find(entry.info.client_id);
    if (it == sessions_.end() || it->second.entry.get() != &entry) return;
    auto ip = it->second.entry->info.remote_ip;
    if (--per_ip_[ip] <= 0) per_ip_.erase(ip);
    sessions_.erase(it);
    if (sessions_.empty()) notify = on_empty_;
  }
  if (notify) notify();
}

std::shared_ptr<SessionEntry> SessionRegistry::Find(const std::string& client_id) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = sessions_.find(client_id);
  return it == sessions_.end() ? nullptr : it->second.entry;
}

size_t SessionRegistry::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return sessions_.size();
}

bool SessionRegistry::HasSessionFrom(const std::string& ip) const {
  std::lock_guard<std::mutex> l(mu_);
  return per_ip_.count(ip) > 0;
}

void SessionRegistry::SetTunnel(const SessionEntry& entry, std::shared_ptr<TunnelCore> t) {
  std::lock_guard<std::mutex> l(mu_);
  Record* rec = FindRecord(entry);
  if (!rec) return;
  std::string id = t->info().tunnel_id;
  rec->tunnels[id] = std::move(t);
}

void SessionRegistry::RemoveTunnel(const SessionEntry& entry, const std::string& tunnel_id) {
  std::lock_guard<std::mutex> l(mu_);
  if (Record* rec = FindRecord(entry)) rec->tunnels.erase(tunnel_id);
}

void SessionRegistry::SetRequested(const SessionEntry& entry, const RequestedTunnel& r) {
  std::lock_guard<std::mutex> l(mu_);
  Record* rec = FindRecord(entry);
  if (!rec) return;
  auto& slot = rec->requested[r.name];
  uint32_t attempts = slot.attempts;
  std::string kind = std::move(slot.kind);
  std::string hostname = std::move(slot.hostname);
  slot = r;
  if (slot.kind.empty()) {
    slot.kind = std::move(kind);
    slot.hostname = std::move(hostname);
  }
  slot.attempts = attempts + (r.state == RequestedTunnel::State::kPending ? 1 : 0);
}

std::shared_ptr<TunnelCore> SessionRegistry::FindTunnel(const std::string& tunnel_id,
                                                        std::shared_ptr<SessionEntry>* entry) const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [_, rec] : sessions_) {
    auto it = rec.tunnels.find(tunnel_id);
    if (it != rec.tunnels.end()) {
      if (entry) *entry = rec.entry;
      return it->second;
    }
  }
  return nullptr;
}

std::vector<SessionRegistry::SessionView> SessionRegistry::Snapshot() const {
  std::vector<SessionView> out;
  {
    std::lock_guard<std::mutex> l(mu_);
    out.reserve(sessions_.size());
    for (const auto& [_, rec] : sessions_) {
      SessionView v;
      v.entry = rec.entry;
      for (const auto& [__, t] : rec.tunnels) v.tunnels.push_back(t);
      for (const auto& [__, r] : rec.requested) v.requested.push_back(r);
      out.push_back(std::move(v));
    }
  }
  std::sort(out.begin(), out.end(), [](const SessionView& a, const SessionView& b) {
    return a.entry->info.client_id < b.entry->info.client_id;
  });
  return out;
}

void SessionRegistry::AddClosedTotals(const TunnelTotals& t) {
  std::lock_guard<std::mutex> l(mu_);
  closed_.bytes_in += t.bytes_in;
  closed_.bytes_out += t.bytes_out;
  closed_.events_in += t.events_in;
  closed_.events_out += t.events_out;
  closed_.visitors_opened += t.visitors_opened;
  closed_.visitors_closed += t.visitors_closed;
  closed_.datagrams_dropped += t.datagrams_dropped;
}

TunnelTotals SessionRegistry::closed_totals() const {
  std::lock_guard<std::mutex> l(mu_);
  return closed_;
}

void SessionRegistry::SetOnEmpty(std::function<void()> f) {
  std::lock_guard<std::mutex> l(mu_);
  on_empty_ = std::move(f);
}

}  // namespace reitunnel::server
