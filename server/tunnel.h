#pragma once

// One open tunnel: its public listener and the visitors relayed through it.
// Each visitor is one coroutine owning the visitor socket and the data
// connection it was paired with.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>

#include "asio/awaitable.hpp"
#include "asio/ip/tcp.hpp"
#include "common/net/conn.h"
#include "common/net/relay.h"
#include "reitunnel/hook/v1/hook.pb.h"
#include "server/data_pool.h"

namespace reitunnel::server {

class HookDispatcher;

struct TunnelInfo {
  std::string tunnel_id;
  std::string name;
  std::string client_id;
  std::string local_addr;
  uint16_t remote_port = 0;
  // Agent and tunnel metadata, as sent to hooks.
  std::map<std::string, std::string> metadata;
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
};

class Tunnel : public std::enable_shared_from_this<Tunnel> {
 public:
  Tunnel(TunnelInfo info, asio::ip::tcp::acceptor acceptor, std::shared_ptr<DataPool> pool,
         std::chrono::milliseconds data_conn_timeout, uint32_t max_visitors,
         HookDispatcher* hooks);

  void Start();
  void StopAccepting();
  void CloseVisitors();
  // Exact live totals: finished visitors plus what active ones moved so far.
  TunnelTotals Totals() const;
  // Traffic since the previous call, for data batches; false if none.
  bool TakeTraffic(hook::v1::TunnelTraffic* out);
  size_t active_visitors() const { return visitors_.size(); }
  const TunnelInfo& info() const { return info_; }
  std::chrono::system_clock::time_point opened_at() const { return opened_at_; }

 private:
  struct Visitor {
    std::string id;
    std::shared_ptr<net::Conn> visitor;
    std::shared_ptr<net::Conn> data;
    net::RelayCounters counters;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  };

  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Serve(std::shared_ptr<Visitor> v);
  asio::awaitable<bool> AdmitVisitor(const Visitor& v);
  void NotifyVisitorClosed(const Visitor& v);

  TunnelInfo info_;
  asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<DataPool> pool_;
  std::chrono::milliseconds data_conn_timeout_;
  uint32_t max_visitors_;
  HookDispatcher* hooks_;  // may be null; outlives every tunnel
  std::unordered_set<std::shared_ptr<Visitor>> visitors_;
  TunnelTotals finished_;  // visitors_opened counts every accepted visitor
  TunnelTotals reported_;  // what TakeTraffic already handed out
  uint64_t next_visitor_ = 0;
  std::chrono::system_clock::time_point opened_at_ = std::chrono::system_clock::now();
};

}  // namespace reitunnel::server
