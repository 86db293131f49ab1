// reitunnelctl bans list|remove

#include "cli/commands/bans.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands/commands.h"
#include "cli/commands/util.h"

namespace reitunnel::cli {
namespace {

namespace v1 = ::reitunnel::admin::v1;

Outcome List(Context& ctx) {
  Outcome o;
  AdminClient* admin = ctx.admin(&o);
  if (admin == nullptr) return o;
  v1::ListBansResponse resp;
  o = CallUnary(*admin, "ListBans", &v1::AdminService::StubInterface::ListBans,
                v1::ListBansRequest(), &resp, "");
  if (!o.ok()) return o;
  if (PrintDocument(ctx, resp)) return Outcome::Ok();
  ctx.out << BansTable(resp, ctx.now, Wide(ctx)).Render();
  return Outcome::Ok();
}

Outcome Remove(Context& ctx) {
  Outcome o;
  AdminClient* admin = ctx.admin(&o);
  if (admin == nullptr) return o;
  v1::RemoveBanRequest req;
  req.set_identity(ctx.args[0]);
  req.set_tunnel_name(ctx.flags->GetString("tunnel"));
  const std::string what =
      req.tunnel_name().empty()
          ? absl::StrCat("agent ", req.identity())
          : absl::StrCat("tunnel \"", req.tunnel_name(), "\" of agent ", req.identity());
  v1::RemoveBanResponse resp;
  o = CallUnary(*admin, "RemoveBan", &v1::AdminService::StubInterface::RemoveBan, req, &resp,
                absl::StrCat("no ban on ", what, " is in force"));
  if (!o.ok()) return o;
  if (PrintDocument(ctx, resp)) return Outcome::Ok();
  ctx.out << "ban on " << what << " removed\n";
  return Outcome::Ok();
}

CommandSpec ListCommand() {
  CommandSpec list;
  list.verb = "list";
  list.summary = "List operator bans in force";
  list.details =
      "Bans come from 'clients kick --ban' (the whole agent: TUNNEL is *) and\n"
      "'tunnels close --ban' (one tunnel name of the agent). IDENTITY is the agent's\n"
      "--agent-id, else its IP address. Columns: IDENTITY TUNNEL REASON EXPIRES\n"
      "(time left); -o wide adds CREATED and UNTIL. -o json / -o yaml print the\n"
      "ListBansResponse. Bans live in the server's memory: a restart clears them.\n\n"
      "Examples:\n"
      "  reitunnelctl bans list\n"
      "  reitunnelctl bans list -o yaml\n";
  list.run = List;
  return list;
}

CommandSpec RemoveCommand() {
  CommandSpec remove;
  remove.verb = "remove";
  remove.args_usage = "IDENTITY";
  remove.args_missing = "missing the banned IDENTITY (see 'reitunnelctl bans list')";
  remove.min_args = remove.max_args = 1;
  remove.summary = "Lift a ban (the agent or tunnel may come back at once)";
  remove.details =
      "Without --tunnel, lifts the ban on the whole agent; with it, the ban on that\n"
      "tunnel name. Exits 1 when no such ban is in force. The agent retries on its\n"
      "own (with backoff): no restart needed.\n\n"
      "Examples:\n"
      "  reitunnelctl bans remove 203.0.113.7\n"
      "  reitunnelctl bans remove edge-agent-1 --tunnel=web\n";
  remove.add_flags = [](config::FlagSet& fs) {
    fs.String("tunnel", "NAME", "the ban on this tunnel name, not the agent's");
  };
  remove.run = Remove;
  return remove;
}

}  // namespace

Table BansTable(const v1::ListBansResponse& bans, absl::Time now, bool wide) {
  std::vector<std::string> headers = {"IDENTITY", "TUNNEL", "REASON", "EXPIRES"};
  if (wide) {
    headers.push_back("CREATED");
    headers.push_back("UNTIL");
  }
  Table table(headers);
  for (const v1::Ban& b : bans.bans()) {
    std::vector<std::string> row = {b.identity(), b.tunnel_name().empty() ? "*" : b.tunnel_name(),
                                    b.reason(), Remaining(b.until(), now)};
    if (wide) {
      row.push_back(FormatTimestamp(b.created()));
      row.push_back(FormatTimestamp(b.until()));
    }
    table.AddRow(std::move(row));
  }
  return table;
}

GroupSpec BansGroup() {
  GroupSpec g;
  g.name = "bans";
  g.summary = "List and lift operator bans (kick --ban, close --ban).";
  g.commands.push_back(ListCommand());
  g.commands.push_back(RemoveCommand());
  return g;
}

}  // namespace reitunnel::cli
