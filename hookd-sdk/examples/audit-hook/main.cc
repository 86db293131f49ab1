// audit-hook: writes every event as one JSON line on stdout and allows
// everything (run it next to policy hooks, or with the server's fail_open).
//
//   audit-hook --listen=127.0.0.1:7100 | tee audit.jsonl
//
// A line is {"event":"<name>","audit_time":"<RFC 3339, when the hook got it>",
// ...the request's fields...}: the request is rendered with the proto3 JSON
// mapping (field names as in hook.proto, e.g. client_id, tunnel_id, metadata,
// context.time; 64-bit counters are JSON strings, as that mapping requires).
// Data batches are one line per batch ("event":"data_batch", with sequence
// and the per-tunnel traffic); "missed_batches" appears when the sequence
// skipped numbers since the previous batch of the same server instance.
//
// Each line is written with one stdio call and flushed, so lines from
// concurrent gRPC threads never interleave and reach a pipe at once.

#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/common/json_line.h"
#include "reitunnel/hookd/hookd.h"

namespace hookd = reitunnel::hookd;

namespace {

class AuditHook : public hookd::Hook {
 public:
  absl::Status OnServerStart(const hookd::ServerStartRequest& r) override {
    Audit("server_start", r);
    return hookd::Allow();
  }
  absl::Status OnClientConnect(const hookd::ClientConnectRequest& r) override {
    Audit("client_connect", r);
    return hookd::Allow();
  }
  absl::Status OnTunnelOpen(const hookd::TunnelOpenRequest& r) override {
    Audit("tunnel_open", r);
    return hookd::Allow();
  }
  absl::Status OnVisitorConnect(const hookd::VisitorConnectRequest& r) override {
    Audit("visitor_connect", r);
    return hookd::Allow();
  }
  void OnServerStop(const hookd::ServerStopRequest& r) override { Audit("server_stop", r); }
  void OnClientDisconnect(const hookd::ClientDisconnectRequest& r) override {
    Audit("client_disconnect", r);
  }
  void OnTunnelClose(const hookd::TunnelCloseRequest& r) override { Audit("tunnel_close", r); }
  void OnError(const hookd::ErrorEvent& r) override { Audit("error", r); }
  void OnVisitorDisconnect(const hookd::VisitorDisconnectRequest& r) override {
    Audit("visitor_disconnect", r);
  }

  void OnDataBatch(const hookd::DataBatch& batch) override {
    uint64_t missed = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      uint64_t& last = last_sequence_[batch.context().server().instance_id()];
      if (last != 0 && batch.sequence() > last + 1) missed = batch.sequence() - last - 1;
      last = batch.sequence();
    }
    Audit("data_batch", batch, missed);
  }

 private:
  static void Audit(const char* event, const google::protobuf::Message& message,
                    uint64_t missed_batches = 0) {
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    std::string body;
    if (!google::protobuf::util::MessageToJsonString(message, &body, options).ok()) {
      body = "{}";  // cannot happen for these messages; keep the line anyway
    }
    hookd::examples::JsonLine line;
    line.Str("event", event)
        .Str("audit_time", absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone()));
    if (missed_batches > 0) line.Num("missed_batches", missed_batches);
    line.Merge(body).Emit();
  }

  std::mutex mu_;
  // Last batch sequence seen, per server instance.
  absl::flat_hash_map<std::string, uint64_t> last_sequence_;  // guarded by mu_
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> rest;
  absl::StatusOr<hookd::HookServerOptions> options = hookd::ParseServerFlags(argc, argv, &rest);
  if (!options.ok()) {
    std::cerr << "audit-hook: " << options.status().message() << "\n";
    return 2;
  }
  for (const std::string& arg : rest) {
    if (arg == "--help" || arg == "-h") {
      std::cout << "usage: audit-hook [flags]\n" << hookd::ServerFlagsHelp();
      return 0;
    }
    std::cerr << "audit-hook: unknown argument \"" << arg << "\"\n";
    return 2;
  }
  options->name = "audit-hook";  // reported in Describe
  hookd::HookServer server(*options);
  server.AddHook(std::make_unique<AuditHook>());
  return hookd::ServeMain(server);
}
