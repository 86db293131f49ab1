#include "server/config_defaults.h"

#include <unistd.h>

#include <string>

#include "common/runtime/cpu_count.h"

namespace reitunnel::server {

void FillDataPlaneDefaults(config::v1::ServerConfig* cfg) {
  auto* l = cfg->mutable_limits();
  if (l->max_pending_handshakes() == 0) l->set_max_pending_handshakes(1024);
  if (l->max_pending_handshakes_per_source() == 0) l->set_max_pending_handshakes_per_source(64);
  if (l->reserved_handshakes() == 0) l->set_reserved_handshakes(256);
  if (l->auth_failures_before_block() == 0) l->set_auth_failures_before_block(5);
  if (l->auth_block_ms() == 0) l->set_auth_block_ms(5000);
  auto* t = cfg->mutable_timeouts();
  if (t->watchdog_ms() == 0) t->set_watchdog_ms(10000);
  if (cfg->workers() == 0) cfg->set_workers(static_cast<uint32_t>(runtime::UsableCpuCount()));
  auto* c = cfg->mutable_cluster();
  if (c->endpoints_size() > 0) {
    if (c->name().empty()) c->set_name("reitunnel");
    if (c->lease_ttl_s() == 0) c->set_lease_ttl_s(10);
    if (c->replica_id().empty()) {
      // The host name (a pod's name on Kubernetes), as a valid key segment.
      char host[256] = {};
      gethostname(host, sizeof(host) - 1);
      std::string id;
      for (char ch : std::string(host)) {
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        id.push_back(ok ? ch : '-');
      }
      c->set_replica_id(id.empty() ? "replica" : id.substr(0, 128));
    }
  }
}

}  // namespace reitunnel::server
