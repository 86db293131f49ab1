#include "server/listener/admission.h"

namespace reitunnel::server {

Admission::Ticket Admission::Admit(const std::string& source_ip, bool known_source,
                                   const char** why) {
  std::lock_guard<std::mutex> l(mu_);
  size_t total = total_.load(std::memory_order_relaxed);
  size_t open_limit = limits_.max_pending > limits_.reserved_for_known
                          ? limits_.max_pending - limits_.reserved_for_known
                          : 0;
  if (total >= limits_.max_pending || (!known_source && total >= open_limit)) {
    *why = "too many handshakes in progress";
    return Ticket();
  }
  size_t& mine = per_source_[source_ip];
  if (mine >= limits_.max_pending_per_source) {
    *why = "too many handshakes in progress from this address";
    return Ticket();
  }
  ++mine;
  total_.store(total + 1, std::memory_order_relaxed);
  return Ticket(this, source_ip);
}

void Admission::Release(const std::string& source) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = per_source_.find(source);
  if (it != per_source_.end() && --it->second == 0) per_source_.erase(it);
  total_.store(total_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

}  // namespace reitunnel::server
