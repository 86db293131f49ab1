// reitunnelctl hooks list

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/commands/commands.h"
#include "cli/commands/util.h"

namespace reitunnel::cli {
namespace {

namespace v1 = ::reitunnel::admin::v1;

std::string Millis(double ms, uint64_t calls) {
  if (calls == 0) return "-";
  if (ms >= 1000.0) return absl::StrFormat("%.1fs", ms / 1000.0);
  if (ms >= 10.0) return absl::StrFormat("%.0fms", ms);
  return absl::StrFormat("%.1fms", ms);
}

Outcome List(Context& ctx) {
  Outcome o;
  AdminClient* admin = ctx.admin(&o);
  if (admin == nullptr) return o;
  v1::ListHooksRequest req;
  v1::ListHooksResponse resp;
  grpc::ClientContext c;
  admin->Prepare(&c);
  grpc::Status st = admin->stub().ListHooks(&c, req, &resp);
  if (!st.ok()) return admin->Failure(st, "ListHooks");
  if (ctx.globals.output == OutputFormat::kJson) {
    PrintJson(ctx, resp);
    return Outcome::Ok();
  }
  Table table({"NAME", "ADDRESS", "STATE", "CALLS", "ALLOW", "DENY", "ERR", "TIMEOUT", "FAILOPEN",
               "P50", "P99", "QUEUE", "DROPPED"});
  for (const v1::Hook& h : resp.hooks()) {
    table.AddRow({h.name(), h.address(), h.state(), absl::StrCat(h.calls()),
                  absl::StrCat(h.allowed()), absl::StrCat(h.denied()), absl::StrCat(h.errors()),
                  absl::StrCat(h.timeouts()), absl::StrCat(h.fail_open_allowances()),
                  Millis(h.latency_p50_ms(), h.calls()), Millis(h.latency_p99_ms(), h.calls()),
                  absl::StrCat(h.queue_depth()),
                  absl::StrCat(h.dropped_events() + h.dropped_batches())});
  }
  ctx.out << table.Render();
  return Outcome::Ok();
}

}  // namespace

GroupSpec HooksGroup() {
  GroupSpec g;
  g.name = "hooks";
  g.summary = "Inspect the configured hook services.";
  CommandSpec list;
  list.verb = "list";
  list.summary = "List hook services with their state and counters";
  list.details =
      "Columns: NAME ADDRESS STATE CALLS ALLOW DENY ERR TIMEOUT FAILOPEN P50 P99\n"
      "QUEUE DROPPED. CALLS counts blocking calls (ALLOW/DENY are the hook's answers;\n"
      "ERR and TIMEOUT are failures, FAILOPEN the failures let through by a\n"
      "fail_open policy); P50/P99 are their latencies; QUEUE is notifications\n"
      "waiting; DROPPED counts dropped notifications and data batches. -o json also\n"
      "shows the strategy and each hook's events, failure policy and timeout.\n\n"
      "Examples:\n"
      "  reitunnelctl hooks list\n"
      "  reitunnelctl hooks list -o json\n";
  list.run = List;
  g.commands.push_back(std::move(list));
  return g;
}

}  // namespace reitunnel::cli
