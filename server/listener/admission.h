#pragma once

// Who may start a handshake. A handshake holds a slot only while it runs
// (an established agent holds none), and slots are bounded three ways:
//  - per source address, so one host cannot take them all;
//  - globally, so a flood cannot exhaust fds and memory;
//  - with a share reserved for addresses that already have an established
//    session, so a flood from elsewhere cannot starve the data connections
//    of agents that are already connected.
// Thread-safe; every worker's acceptor admits through the same instance.

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace reitunnel::server {

struct AdmissionLimits {
  size_t max_pending = 1024;
  size_t max_pending_per_source = 64;
  // Of max_pending, this many are only for sources with a session.
  size_t reserved_for_known = 256;
};

class Admission {
 public:
  explicit Admission(AdmissionLimits limits) : limits_(limits) {}

  // Held for the duration of one handshake.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Admission* a, std::string source) : a_(a), source_(std::move(source)) {}
    ~Ticket() { Release(); }
    Ticket(Ticket&& o) noexcept : a_(o.a_), source_(std::move(o.source_)) { o.a_ = nullptr; }
    Ticket& operator=(Ticket&& o) noexcept {
      if (this != &o) {
        Release();
        a_ = o.a_;
        source_ = std::move(o.source_);
        o.a_ = nullptr;
      }
      return *this;
    }
    void Release() {
      if (a_) a_->Release(source_);
      a_ = nullptr;
    }
    explicit operator bool() const { return a_ != nullptr; }

   private:
    Admission* a_ = nullptr;
    std::string source_;
  };

  // A ticket, or an empty one with `*why` set ("per-source limit", ...).
  Ticket Admit(const std::string& source_ip, bool known_source, const char** why);

  size_t pending() const { return total_.load(std::memory_order_relaxed); }
  // SIGHUP: new limits apply to the next Admit; tickets out keep theirs.
  void SetLimits(AdmissionLimits limits) {
    std::lock_guard<std::mutex> l(mu_);
    limits_ = limits;
  }

 private:
  void Release(const std::string& source);

  AdmissionLimits limits_;  // guarded by mu_
  std::atomic<size_t> total_{0};
  std::mutex mu_;
  std::unordered_map<std::string, size_t> per_source_;  // guarded by mu_
};

}  // namespace reitunnel::server
