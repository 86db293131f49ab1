#pragma once

// Every live agent session, readable from any thread. Sessions live on their
// home worker; admin, metrics, data batches and the handshake of data
// connections (on whatever worker they land) find them here under a mutex
// held only for map operations. Traffic counters are read without it.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "asio/any_io_executor.hpp"
#include "reitunnel/wire/v1/wire.pb.h"
#include "server/registry/agent_info.h"
#include "server/session/tunnel_core.h"

namespace reitunnel::server {

class AgentSession;
class SessionShard;

// A tunnel the agent asked for, whether or not it is open: operators see
// why a requested tunnel is not serving (`tunnels list --all`).
struct RequestedTunnel {
  std::string name;
  uint32_t requested_port = 0;
  std::string local_addr;
  // "tcp", "http", "tls"; "" keeps what an earlier request recorded.
  std::string kind;
  std::string hostname;  // http, tls
  enum class State { kPending, kOpen, kRefused, kClosed } state = State::kPending;
  wire::v1::RefusalCode last_code = wire::v1::REFUSAL_CODE_UNSPECIFIED;
  std::string last_reason;
  std::string tunnel_id;  // when open
  uint32_t attempts = 0;
  std::chrono::system_clock::time_point since = std::chrono::system_clock::now();
};
const char* StateName(RequestedTunnel::State s);

struct SessionEntry {
  AgentInfo info;
  std::string session_key;
  int home_worker = 0;
  asio::any_io_executor home;
  // One per worker, index = worker; fixed for the session's life.
  std::vector<std::shared_ptr<SessionShard>> shards;
  std::weak_ptr<AgentSession> session;
};

class SessionRegistry {
 public:
  // Adds unless `max_agents` sessions exist (ResourceExhausted). A session
  // with the same client id (the same agent reconnecting before its old
  // session timed out) is replaced; `*replaced` receives it so the caller
  // closes it.
  absl::Status TryAdd(std::shared_ptr<SessionEntry> entry, size_t max_agents,
                      std::shared_ptr<SessionEntry>* replaced = nullptr);
  // Removes `entry` if it is still the one registered under its client id.
  void Remove(const SessionEntry& entry);
  std::shared_ptr<SessionEntry> Find(const std::string& client_id) const;
  size_t size() const;
  // True if an established session came from this IP (admission keeps
  // capacity for them).
  bool HasSessionFrom(const std::string& ip) const;

  // Per-session bookkeeping; ignored once `entry` was replaced or removed.
  void SetTunnel(const SessionEntry& entry, std::shared_ptr<TunnelCore> t);
  void RemoveTunnel(const SessionEntry& entry, const std::string& tunnel_id);
  void SetRequested(const SessionEntry& entry, const RequestedTunnel& r);
  // Finds a tunnel by id; fills *entry with its session.
  std::shared_ptr<TunnelCore> FindTunnel(const std::string& tunnel_id,
                                         std::shared_ptr<SessionEntry>* entry) const;

  struct SessionView {
    std::shared_ptr<SessionEntry> entry;
    std::vector<std::shared_ptr<TunnelCore>> tunnels;  // by tunnel id
    std::vector<RequestedTunnel> requested;             // by name
  };
  // Sorted by client id.
  std::vector<SessionView> Snapshot() const;

  // Totals of tunnels already closed, so server-wide byte counters stay
  // monotonic.
  void AddClosedTotals(const TunnelTotals& t);
  TunnelTotals closed_totals() const;

  // Called (from whichever thread removes the last session) when the
  // registry becomes empty; drain waits on it.
  void SetOnEmpty(std::function<void()> f);

 private:
  struct Record {
    std::shared_ptr<SessionEntry> entry;
    std::map<std::string, std::shared_ptr<TunnelCore>> tunnels;
    std::map<std::string, RequestedTunnel> requested;
  };
  Record* FindRecord(const SessionEntry& entry);  // mu_ held

  mutable std::mutex mu_;
  std::unordered_map<std::string, Record> sessions_;
  std::unordered_map<std::string, int> per_ip_;
  TunnelTotals closed_;
  std::function<void()> on_empty_;
};

}  // namespace reitunnel::server
