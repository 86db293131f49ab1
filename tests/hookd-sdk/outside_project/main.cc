// Built against the installed SDK: serves a hook on port 0, calls it with the
// installed generated stubs, and checks that the veto comes back. Exit 0 on
// success.
#include <grpcpp/grpcpp.h>

#include <cstdio>

#include "reitunnel/hook/v1/hook.grpc.pb.h"
#include "reitunnel/hookd/hookd.h"

namespace hookd = reitunnel::hookd;

class DenyAdmin : public hookd::Hook {
  absl::Status OnTunnelOpen(const hookd::TunnelOpenRequest& request) override {
    if (request.tunnel_name() == "admin") return hookd::Deny("admin is reserved");
    return hookd::Allow();
  }
};

int main() {
  DenyAdmin hook;
  hookd::HookServer server({.address = "127.0.0.1:0", .handle_signals = false});
  server.AddHook(&hook);
  if (absl::Status status = server.Start(); !status.ok()) {
    std::fprintf(stderr, "start: %s\n", status.ToString().c_str());
    return 1;
  }
  auto stub = reitunnel::hook::v1::HookService::NewStub(
      grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  reitunnel::hook::v1::TunnelOpenRequest request;
  request.set_tunnel_name("admin");
  reitunnel::hook::v1::DecisionResponse response;
  grpc::Status status = stub->OnTunnelOpen(&context, request, &response);
  if (!status.ok() || response.decision() != reitunnel::hook::v1::DENY ||
      response.reason() != "admin is reserved") {
    std::fprintf(stderr, "unexpected answer: %s %s\n", status.error_message().c_str(),
                 response.DebugString().c_str());
    return 1;
  }
  std::printf("outside project: denied \"%s\" as expected\n", response.reason().c_str());
  return 0;
}
