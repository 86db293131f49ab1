// reitunnelctl hooks list

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
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
  if (PrintDocument(ctx, resp)) return Outcome::Ok();
  std::vector<std::string> headers = {"NAME",  "ADDRESS",  "STATE", "DESCRIBED", "CALLS",
                                      "ALLOW", "DENY",     "ERR",   "TIMEOUT",   "FAILOPEN",
                                      "P50",   "P99",      "QUEUE", "DROPPED"};
  if (Wide(ctx)) {
    for (const char* h : {"POLICY", "TIMEOUT-MS", "EVENTS", "IMPLEMENTED"}) headers.push_back(h);
  }
  Table table(headers);
  for (const v1::Hook& h : resp.hooks()) {
    std::vector<std::string> row = {h.name(),
                                    h.address(),
                                    h.state(),
                                    h.described() ? "yes" : "no",
                                    absl::StrCat(h.calls()),
                                    absl::StrCat(h.allowed()),
                                    absl::StrCat(h.denied()),
                                    absl::StrCat(h.errors()),
                                    absl::StrCat(h.timeouts()),
                                    absl::StrCat(h.fail_open_allowances()),
                                    Millis(h.latency_p50_ms(), h.calls()),
                                    Millis(h.latency_p99_ms(), h.calls()),
                                    absl::StrCat(h.queue_depth()),
                                    absl::StrCat(h.dropped_events() + h.dropped_batches())};
    if (Wide(ctx)) {
      row.push_back(h.failure_policy());
      row.push_back(absl::StrCat(h.timeout_ms()));
      row.push_back(absl::StrJoin(h.events(), ","));
      row.push_back(h.described() ? absl::StrJoin(h.implemented_events(), ",") : "?");
    }
    table.AddRow(std::move(row));
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
      "Columns: NAME ADDRESS STATE DESCRIBED CALLS ALLOW DENY ERR TIMEOUT FAILOPEN\n"
      "P50 P99 QUEUE DROPPED. DESCRIBED is yes once the hook said which events it\n"
      "implements (Describe); until then its blocking events fail per its policy.\n"
      "CALLS counts blocking calls (ALLOW/DENY are the hook's answers; ERR and\n"
      "TIMEOUT are failures, FAILOPEN the failures let through by a fail_open\n"
      "policy); P50/P99 are their latencies; QUEUE is notifications waiting; DROPPED\n"
      "counts dropped notifications and data batches. -o wide adds POLICY,\n"
      "TIMEOUT-MS, EVENTS (the effective subscription: configured events the hook\n"
      "implements) and IMPLEMENTED (what the hook declared; ? before Describe).\n"
      "-o json / -o yaml also show the strategy.\n\n"
      "Examples:\n"
      "  reitunnelctl hooks list\n"
      "  reitunnelctl hooks list -o wide\n"
      "  reitunnelctl hooks list -o json\n";
  list.run = List;
  g.commands.push_back(std::move(list));
  return g;
}

}  // namespace reitunnel::cli
