#pragma once

// One worker's part of a UDP tunnel: this worker's socket of the public
// port's SO_REUSEPORT group and the flows it receives. A flow is one visitor
// address; it takes a data connection from the session's pool, sends
// StartRelay, then carries datagrams both ways (datagram_link.h) until it
// has been idle for the configured time, when it ends in-band and the link
// returns to the pool. Everything here runs on the shard's worker.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "asio/awaitable.hpp"
#include "asio/ip/udp.hpp"
#include "asio/steady_timer.hpp"
#include "common/net/relay.h"
#include "server/session/data_pool.h"
#include "server/session/tunnel_core.h"

namespace reitunnel::server {

class ActiveVisitors;
class ClusterNode;
class HookDispatcher;
class SessionShard;

struct UdpFlowSettings {
  // A flow with no datagram either way for this long ends.
  std::chrono::milliseconds idle_timeout{60000};
  // Datagrams waiting for the link, per flow, by count and by bytes (a
  // visitor's datagrams may each be 64 KiB); more are dropped (counted).
  size_t max_queued = 512;
  size_t max_queued_bytes = 1 << 20;
  uint32_t max_flows_per_tunnel = 10000;
  // Cluster mode: new flows only while the port's claim is surely held
  // (ClusterNode::ServingAllowed), as for TCP visitors.
  const ClusterNode* cluster = nullptr;
};

class UdpTunnelShard : public std::enable_shared_from_this<UdpTunnelShard> {
 public:
  UdpTunnelShard(int worker, std::shared_ptr<TunnelCore> core, asio::ip::udp::socket socket,
                 std::weak_ptr<SessionShard> shard, UdpFlowSettings settings,
                 HookDispatcher* hooks, ActiveVisitors* active);

  void Start();
  // Drain: no new flows; the current ones go on until idle.
  void StopAccepting() { accepting_ = false; }
  // The socket closes and every flow is aborted (its link closed).
  void Stop();

 private:
  struct Flow {
    explicit Flow(const asio::any_io_executor& ex) : wake(ex) {}
    asio::ip::udp::endpoint visitor;
    std::string id;
    std::string peer;  // "ip:port"
    Link link;
    std::deque<std::string> queue;  // towards the agent
    size_t queued_bytes = 0;
    asio::steady_timer wake;        // the writer waits here for datagrams
    std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point started = last;
    net::RelayCounters counters;
    uint64_t dropped = 0;
    bool ending = false;       // no more datagrams to the agent: send the terminator
    bool writer_done = false;  // our terminator is out (or the flow failed)
    bool reader_done = false;  // the agent's terminator arrived (or the flow failed)
    bool broken = false;       // the link cannot be reused
    bool admitted = false;
    bool reader_started = false;  // ReadFromAgent runs and will set reader_done
    // Vetoed: kept (dropping its datagrams) until idle, so a denied address
    // costs one hook call per idle timeout, not one per datagram.
    bool denied = false;
  };

  asio::awaitable<void> ReceiveLoop();
  asio::awaitable<void> SweepLoop();
  asio::awaitable<void> RunFlow(std::shared_ptr<Flow> flow);
  asio::awaitable<void> ReadFromAgent(std::shared_ptr<Flow> flow);
  asio::awaitable<bool> Admit(const Flow& flow);
  void Received(const asio::ip::udp::endpoint& from, const char* data, size_t n);
  void Refused();
  void End(Flow& flow);
  // Once both directions are done: the link back to the pool, the flow gone.
  void MaybeFinish(const std::shared_ptr<Flow>& flow);
  // Ends a flow that has nothing in flight (a denial).
  void Forget(const std::shared_ptr<Flow>& flow);

  int worker_;
  std::shared_ptr<TunnelCore> core_;
  asio::ip::udp::socket socket_;
  std::weak_ptr<SessionShard> shard_;
  UdpFlowSettings settings_;
  HookDispatcher* hooks_;
  ActiveVisitors* active_;
  asio::steady_timer sweep_;
  std::map<asio::ip::udp::endpoint, std::shared_ptr<Flow>> flows_;
  uint64_t next_flow_ = 0;
  // Datagrams of flows refused (draining, at the flow limit) since the last
  // log line, which is written at most once a minute.
  uint64_t refused_ = 0;
  std::chrono::steady_clock::time_point refused_logged_{};
  bool accepting_ = true;
  bool stopped_ = false;
};

}  // namespace reitunnel::server
