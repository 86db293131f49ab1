// A complete hook service: refuses tunnels whose name starts with "admin".
#include <cstdio>
#include <memory>

#include "absl/strings/match.h"
#include "reitunnel/hookd/hookd.h"

namespace hookd = reitunnel::hookd;

// Stateless, hence thread-safe as HookServer requires.
class DenyAdminTunnels : public hookd::Hook {
  absl::Status OnTunnelOpen(const hookd::TunnelOpenRequest& request) override {
    if (absl::StartsWith(request.tunnel_name(), "admin")) {
      return hookd::Deny("tunnel names starting with \"admin\" are reserved");
    }
    return hookd::Allow();
  }
};

int main(int argc, char** argv) {
  absl::StatusOr<hookd::HookServerOptions> options = hookd::ParseServerFlags(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "%s\n", options.status().ToString().c_str());
    return 2;
  }
  hookd::HookServer server(*options);
  server.AddHook(std::make_unique<DenyAdminTunnels>());
  return hookd::ServeMain(server);
}
