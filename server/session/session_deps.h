#pragma once

// What a session may use of the server: narrow, explicit dependencies
// instead of the whole Server.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace reitunnel::runtime {
class WorkerPool;
}

namespace reitunnel::server {

class ActiveVisitors;
class ClusterNode;
class Bans;
class HookDispatcher;
class PortAllocator;
class SessionRegistry;
namespace vhost {
class Routes;
}

struct SessionSettings {
  uint32_t max_tunnels_per_agent = 16;
  uint32_t data_pool_size = 4;
  uint32_t max_visitors_per_tunnel = 10000;
  std::chrono::milliseconds heartbeat_interval{10000};
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds data_connection_timeout{10000};
  std::chrono::milliseconds udp_flow_idle_timeout{60000};
};

struct SessionDeps {
  runtime::WorkerPool* workers = nullptr;
  SessionRegistry* registry = nullptr;
  PortAllocator* ports = nullptr;
  HookDispatcher* hooks = nullptr;  // may be null: no hooks configured
  Bans* bans = nullptr;
  ActiveVisitors* active = nullptr;
  const std::atomic<bool>* draining = nullptr;
  const SessionSettings* settings = nullptr;
  ClusterNode* cluster = nullptr;  // null: standalone
  vhost::Routes* routes = nullptr;  // http/tls listeners; null: none
};

}  // namespace reitunnel::server
