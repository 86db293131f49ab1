#include "server/listener/reject_log.h"

#include <vector>

#include "common/log/log.h"

namespace reitunnel::server {

bool RejectLog::Record(const std::string& source, const std::string& peer,
                       const std::string& reason, bool level_warn) {
  if (log::Enabled(log::Level::kDebug)) {
    {
      std::lock_guard<std::mutex> l(mu_);
      ++total_;
    }
    log::Log(level_warn ? log::Level::kWarn : log::Level::kInfo, "connection_rejected",
             "connection rejected", {{"remote_addr", peer}, {"reason", reason}});
    return true;
  }
  bool log_now = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++total_;
    auto now = Clock::now();
    auto key = std::make_pair(source, reason);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      if (entries_.size() >= max_sources_) {
        ++overflow_suppressed_;
        return false;
      }
      entries_.emplace(key, Entry{now, 0, level_warn});
      log_now = true;
    } else {
      ++it->second.suppressed;
    }
  }
  if (!log_now) return false;
  auto level = level_warn ? log::Level::kWarn : log::Level::kInfo;
  log::Log(level, "connection_rejected", "connection rejected",
           {{"remote_addr", source}, {"reason", reason}});
  return true;
}

void RejectLog::Flush(bool force) {
  struct Line {
    std::string source, reason;
    uint64_t n;
    bool warn;
  };
  std::vector<Line> lines;
  uint64_t overflow = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto now = Clock::now();
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (force || now - it->second.window_start >= interval_) {
        if (it->second.suppressed) {
          lines.push_back({it->first.first, it->first.second, it->second.suppressed, it->second.warn});
        }
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
    overflow = overflow_suppressed_;
    overflow_suppressed_ = 0;
  }
  for (const auto& l : lines) {
    log::Log(l.warn ? log::Level::kWarn : log::Level::kInfo, "connections_rejected",
             "more connections rejected since the last report",
             {{"remote_addr", l.source}, {"reason", l.reason}, {"count", l.n}});
  }
  if (overflow) {
    log::Warn("connections_rejected", "connections rejected from too many sources to list",
              {{"remote_addr", "*"}, {"count", overflow}});
  }
}

uint64_t RejectLog::total() const {
  std::lock_guard<std::mutex> l(mu_);
  return total_;
}

}  // namespace reitunnel::server
