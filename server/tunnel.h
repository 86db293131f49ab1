#pragma once

// One open tunnel: its public listener and the visitors relayed through it.
// Each visitor is one coroutine owning the visitor socket and the data
// connection it was paired with.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>

#include "asio/awaitable.hpp"
#include "asio/ip/tcp.hpp"
#include "common/net/conn.h"
#include "common/net/relay.h"
#include "server/data_pool.h"

namespace reitunnel::server {

struct TunnelInfo {
  std::string tunnel_id;
  std::string name;
  std::string client_id;
  std::string local_addr;
  uint16_t remote_port = 0;
};

// Byte totals: "in" flows from visitors towards the agent's service, "out"
// flows back to visitors.
struct ByteTotals {
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t visitors_total = 0;
  uint64_t visitors_active = 0;
};

class Tunnel : public std::enable_shared_from_this<Tunnel> {
 public:
  Tunnel(TunnelInfo info, asio::ip::tcp::acceptor acceptor, std::shared_ptr<DataPool> pool,
         std::chrono::milliseconds data_conn_timeout, uint32_t max_visitors);

  void Start();
  // Stops accepting; with `force` also closes every active visitor.
  void StopAccepting();
  void CloseVisitors();
  // Live totals: finished visitors plus bytes moved so far by active ones.
  ByteTotals Totals() const;
  size_t active_visitors() const { return visitors_.size(); }
  const TunnelInfo& info() const { return info_; }

 private:
  struct Visitor {
    std::shared_ptr<net::Conn> visitor;
    std::shared_ptr<net::Conn> data;
    net::RelayCounters counters;
  };

  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Serve(std::shared_ptr<Visitor> v);

  TunnelInfo info_;
  asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<DataPool> pool_;
  std::chrono::milliseconds data_conn_timeout_;
  uint32_t max_visitors_;
  std::unordered_set<std::shared_ptr<Visitor>> visitors_;
  ByteTotals finished_;
};

}  // namespace reitunnel::server
