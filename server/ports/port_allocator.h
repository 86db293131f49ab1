#pragma once

// Public ports of the configured range. Thread-safe: tunnels open on every
// worker. A port is first reserved (chosen for REMOTE_PORT 0, so the hook
// that decides sees it), then bound on every worker as a listener group.

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "asio/any_io_executor.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/ip/udp.hpp"
#include "reitunnel/wire/v1/wire.pb.h"

namespace reitunnel::server {

struct Refusal {
  wire::v1::RefusalCode code = wire::v1::REFUSAL_CODE_UNSPECIFIED;
  std::string reason;
};

class PortAllocator {
 public:
  PortAllocator(asio::ip::address bind_addr, uint16_t low, uint16_t high)
      : bind_addr_(bind_addr), low_(low), high_(high) {}

  // A port held for one tunnel until the reservation is destroyed.
  class Reservation {
   public:
    Reservation(PortAllocator* owner, uint16_t port) : owner_(owner), port_(port) {}
    ~Reservation();
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    uint16_t port() const { return port_; }

   private:
    PortAllocator* owner_;
    uint16_t port_;
  };

  // `requested` (checked against the range) or, for 0, a free port of the
  // range (random start, so concurrent agents don't race for the lowest).
  // On failure the refusal says why in words an agent can print.
  std::unique_ptr<Reservation> Reserve(uint32_t requested, Refusal* refusal);
  // Binds the reserved port once per executor (a SO_REUSEPORT group, after
  // checking that nobody else holds it). Empty on failure.
  std::vector<asio::ip::tcp::acceptor> Bind(const Reservation& r,
                                            const std::vector<asio::any_io_executor>& executors,
                                            Refusal* refusal) const;

  // The same for a UDP tunnel: one socket per executor.
  std::vector<asio::ip::udp::socket> BindUdp(const Reservation& r,
                                             const std::vector<asio::any_io_executor>& executors,
                                             Refusal* refusal) const;

  std::string RangeString() const;
  bool InRange(uint32_t port) const { return port >= low_ && port <= high_; }
  std::pair<uint16_t, uint16_t> range() const { return {low_, high_}; }
  const asio::ip::address& bind_addr() const { return bind_addr_; }
  // Ports reserved now (tunnels open or opening).
  size_t reserved() const;
  size_t capacity() const { return size_t{high_} - low_ + 1; }

 private:
  void Release(uint16_t port);

  asio::ip::address bind_addr_;
  uint16_t low_;
  uint16_t high_;
  mutable std::mutex mu_;
  std::set<uint16_t> reserved_;  // guarded by mu_
};

}  // namespace reitunnel::server
