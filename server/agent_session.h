#pragma once

// One authenticated agent: its control connection, tunnels and data pool.
// Run() is the session's coroutine; everything here lives on the server's
// single data-plane executor.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "asio/awaitable.hpp"
#include "asio/steady_timer.hpp"
#include "common/net/conn.h"
#include "common/net/frame_io.h"
#include "server/data_pool.h"
#include "server/tunnel.h"

namespace reitunnel::server {

class Server;

struct AgentInfo {
  std::string client_id;
  std::string remote_addr;
  std::string agent_version;
  std::map<std::string, std::string> labels;
};

class AgentSession : public std::enable_shared_from_this<AgentSession> {
 public:
  AgentSession(Server& server, AgentInfo info, std::string session_key,
               std::shared_ptr<net::Conn> conn);

  // Serves the control connection until it ends, then tears everything down.
  asio::awaitable<void> Run();
  // Ends the session from outside (shutdown, kick); Run() finishes cleanup.
  void Close(const std::string& reason, bool reconnect);
  // Stops all tunnels from accepting (drain) without ending the session.
  void StopAccepting();
  // Admin: closes one tunnel (hooks see OnTunnelClose, the agent is told).
  bool CloseTunnel(const std::string& tunnel_id, const std::string& reason);
  std::chrono::system_clock::time_point connected_at() const { return connected_at_; }

  void AddDataConn(std::shared_ptr<net::Conn> conn) { pool_->Add(std::move(conn)); }
  // Appends each tunnel's traffic since the last call (data batches).
  void CollectTraffic(std::vector<hook::v1::TunnelTraffic>* out);
  // Metadata sent to hooks: remote_addr, agent_version, label.<key>.
  std::map<std::string, std::string> Metadata() const;
  const std::map<std::string, std::shared_ptr<Tunnel>>& tunnels() const { return tunnels_; }
  const AgentInfo& info() const { return info_; }
  const std::string& session_key() const { return session_key_; }
  size_t active_visitors() const;

 private:
  asio::awaitable<void> Watchdog();
  asio::awaitable<void> HandleOpenTunnel(wire::v1::OpenTunnel req);
  void RefuseTunnel(const std::string& name, wire::v1::RefusalCode code, const std::string& reason);
  void CloseTunnels(const std::string& reason);
  // Stops a tunnel, logs its totals and tells hooks; the caller erases it.
  void FinishTunnel(Tunnel& t, const std::string& reason);

  Server& server_;
  AgentInfo info_;
  std::string session_key_;
  std::shared_ptr<net::Conn> conn_;
  std::shared_ptr<net::FrameWriter> writer_;
  std::shared_ptr<DataPool> pool_;
  asio::steady_timer watchdog_;
  std::chrono::steady_clock::time_point last_rx_;
  std::map<std::string, std::shared_ptr<Tunnel>> tunnels_;  // by name
  std::string close_reason_;
  std::chrono::system_clock::time_point connected_at_ = std::chrono::system_clock::now();
  bool closed_ = false;
};

}  // namespace reitunnel::server
