#pragma once

// What every worker shares about one open tunnel: its immutable description
// and its traffic counters, one slot per worker. A slot is written only by
// its worker's relays; anyone may read the sums at any time (admin, metrics,
// data batches) without locks and without a hop to the workers.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/net/counter.h"
#include "common/net/relay.h"

namespace reitunnel::server {

struct TunnelInfo {
  std::string tunnel_id;
  std::string name;
  std::string client_id;
  std::string local_addr;
  uint16_t remote_port = 0;
  // "ip:port" the tunnel listens on (public_bind_addr and remote_port).
  std::string public_addr;
  // Agent and tunnel metadata, as sent to hooks.
  std::map<std::string, std::string> metadata;
  std::chrono::system_clock::time_point opened_at = std::chrono::system_clock::now();
};

// Counters over the tunnel's life. "in" (received) flows from visitors
// towards the agent's service, "out" (sent) flows back to visitors.
struct TunnelTotals {
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t events_in = 0;
  uint64_t events_out = 0;
  uint64_t visitors_opened = 0;
  uint64_t visitors_closed = 0;
  uint64_t datagrams_dropped = 0;  // UDP: queue full, socket full, flow ending
  uint64_t active_visitors() const { return visitors_opened - visitors_closed; }
};

class TunnelCore {
 public:
  TunnelCore(TunnelInfo info, int workers);

  const TunnelInfo& info() const { return info_; }

  // The slot of worker `w`; only that worker writes it.
  struct alignas(64) Slot {
    net::RelayCounters relay;  // plain_to_link = "in" on the server
    net::Counter visitors_opened;
    net::Counter visitors_closed;
    net::Counter datagrams_dropped;  // UDP tunnels
  };
  Slot& slot(int w) { return slots_[w]; }

  // Sums over every worker. Exact once every worker has stopped the tunnel
  // and the caller has synchronized with them (e.g. through a post).
  TunnelTotals Totals() const;

 private:
  TunnelInfo info_;
  std::vector<Slot> slots_;
};

}  // namespace reitunnel::server
