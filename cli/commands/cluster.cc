// reitunnelctl cluster status: the replicas of a cluster-mode deployment.

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands/commands.h"
#include "cli/commands/util.h"

namespace reitunnel::cli {
namespace {

namespace v1 = ::reitunnel::admin::v1;

Outcome Status(Context& ctx) {
  Outcome o;
  AdminClient* admin = ctx.admin(&o);
  if (admin == nullptr) return o;
  v1::ClusterStatus resp;
  o = CallUnary(*admin, "GetClusterStatus", &v1::AdminService::StubInterface::GetClusterStatus,
                v1::GetClusterStatusRequest(), &resp, "no cluster status");
  if (!o.ok()) return o;
  if (PrintDocument(ctx, resp)) return Outcome::Ok();
  if (!resp.enabled()) {
    ctx.out << "standalone: cluster mode is off (start reitunneld with --cluster-etcd)\n";
    return Outcome::Ok();
  }
  ctx.out << KeyValues({
      {"cluster", resp.cluster_name()},
      {"answered by", resp.replica_id()},
      {"lease", resp.lease_valid() ? "valid" : "UNCONFIRMED (etcd unreachable: not serving ports)"},
      {"replicas", absl::StrCat(resp.replicas_size())},
  });
  ctx.out << "\n";
  std::vector<std::string> headers = {"REPLICA", "VERSION", "STATE",   "CLIENTS",
                                      "TUNNELS", "VISITORS", "AGENT-ADDR"};
  if (Wide(ctx)) {
    headers.push_back("ADMIN-ADDR");
    headers.push_back("STARTED");
  }
  Table table(headers);
  for (const v1::ReplicaStatus& r : resp.replicas()) {
    std::string state = !r.reachable()          ? absl::StrCat("unreachable: ", r.error())
                        : r.draining()          ? std::string("draining")
                        : !r.data_plane_healthy() ? std::string("UNHEALTHY")
                                                  : std::string("serving");
    const bool known = r.reachable();
    std::vector<std::string> row = {
        absl::StrCat(r.replica_id(), r.self() ? " (*)" : ""),
        r.version(),
        state,
        known ? absl::StrCat(r.clients()) : "-",
        known ? absl::StrCat(r.tunnels()) : "-",
        known ? absl::StrCat(r.active_visitors()) : "-",
        r.agent_address()};
    if (Wide(ctx)) {
      row.push_back(r.admin_address());
      row.push_back(FormatTimestamp(r.started_at()));
    }
    table.AddRow(std::move(row));
  }
  ctx.out << table.Render();
  return Outcome::Ok();
}

}  // namespace

GroupSpec ClusterGroup() {
  GroupSpec g;
  g.name = "cluster";
  g.summary = "Show the replicas of a cluster (reitunneld --cluster-etcd)";
  CommandSpec status;
  status.verb = "status";
  status.summary = "Show every live replica, its state and counts";
  status.details =
      "Asks the replica at --admin for the live replica set (from etcd) and each\n"
      "replica's counts (through their admin APIs, with the same credentials).\n"
      "Columns: REPLICA ((*): the one answering) VERSION STATE (serving,\n"
      "draining, UNHEALTHY, unreachable: why) CLIENTS TUNNELS VISITORS\n"
      "AGENT-ADDR; -o wide adds ADMIN-ADDR and STARTED. A standalone server says\n"
      "so. -o json / -o yaml print the ClusterStatus message.\n\n"
      "Examples:\n"
      "  reitunnelctl cluster status\n"
      "  reitunnelctl cluster status -o json\n";
  status.run = Status;
  g.commands.push_back(std::move(status));
  return g;
}

}  // namespace reitunnel::cli
