#pragma once

// tcp and udp tunnels: a public port of the configured range, of their own
// (cluster mode: claimed cluster-wide first), bound once per worker.

#include <cstdint>
#include <memory>

#include "server/tunnels/entrance.h"

namespace reitunnel::server {

class PortEntrance final : public Entrance {
 public:
  PortEntrance(EntranceContext ctx, uint32_t requested_port, bool udp);

  asio::awaitable<std::optional<Refusal>> Reserve(TunnelInfo* ti) override;
  asio::awaitable<std::optional<Refusal>> Start(std::shared_ptr<TunnelCore> core) override;
  asio::awaitable<void> Release() override;

 private:
  // Cluster mode: claims the port cluster-wide (picks one free everywhere
  // for 0), then reserves it here.
  asio::awaitable<std::unique_ptr<PortAllocator::Reservation>> ReserveClusterPort(
      uint32_t requested, Refusal* refusal);

  EntranceContext ctx_;
  uint32_t requested_;
  bool udp_;
  std::unique_ptr<PortAllocator::Reservation> port_;
  bool claimed_ = false;  // holds the cluster-wide claim
};

}  // namespace reitunnel::server
