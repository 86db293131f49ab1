// reitunnelctl clients list|show|kick

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands/bans.h"
#include "cli/commands/commands.h"
#include "cli/commands/util.h"

namespace reitunnel::cli {
namespace {

namespace v1 = ::reitunnel::admin::v1;

std::string NotFound(const std::string& id) {
  return absl::StrCat("no client with id \"", id, "\"");
}

std::string Labels(const v1::Client& c) {
  std::vector<std::pair<std::string, std::string>> labels(c.labels().begin(), c.labels().end());
  return FormatLabels(labels);
}

// Banned agents are missing from the list above; say so, and why. A server
// without ListBans (older, or the call fails) just shows no section: the
// list itself succeeded.
void PrintBannedSection(Context& ctx, AdminClient& admin) {
  v1::ListBansResponse bans;
  grpc::ClientContext c;
  admin.Prepare(&c);
  if (!admin.stub().ListBans(&c, v1::ListBansRequest(), &bans).ok() || bans.bans().empty()) return;
  ctx.out << "\nBANNED (refused until the ban expires; lift one with "
             "'reitunnelctl bans remove IDENTITY [--tunnel=NAME]')\n"
          << BansTable(bans, ctx.now, /*wide=*/false).Render();
}

Outcome List(Context& ctx) {
  uint32_t limit = 0;
  uint32_t page_size = 0;
  std::string selector;
  if (Outcome o = ParseLimit(*ctx.flags, &limit, &page_size); !o.ok()) return o;
  if (Outcome o = ParseLabels(*ctx.flags, &selector); !o.ok()) return o;
  Outcome o;
  AdminClient* admin = ctx.admin(&o);
  if (admin == nullptr) return o;

  v1::ListClientsRequest req;
  req.set_label_selector(selector);
  v1::ListClientsResponse all;
  o = Paginate(
      *admin, "ListClients", req, limit, page_size,
      [&](grpc::ClientContext* c, const v1::ListClientsRequest& r, v1::ListClientsResponse* resp) {
        return admin->stub().ListClients(c, r, resp);
      },
      [](v1::ListClientsResponse* r) { return r->mutable_clients(); }, &all);
  if (!o.ok()) return o;

  if (PrintDocument(ctx, all)) return Outcome::Ok();
  std::vector<std::string> headers = {"ID",      "ADDRESS", "VERSION", "LABELS",
                                      "TUNNELS", "IN",      "OUT",     "CONNECTED"};
  if (Wide(ctx)) {
    for (const char* h : {"AGENT-ID", "IDENTITY", "VISITORS", "INSTANCE", "REPLICAS"}) {
      headers.push_back(h);
    }
  }
  Table table(headers);
  for (const v1::Client& c : all.clients()) {
    std::vector<std::string> row = {c.client_id(),
                                    c.remote_addr(),
                                    c.agent_version(),
                                    Labels(c),
                                    absl::StrCat(c.tunnel_ids_size()),
                                    HumanBytes(c.bytes_in()),
                                    HumanBytes(c.bytes_out()),
                                    Age(c.connected_at(), ctx.now)};
    if (Wide(ctx)) {
      row.push_back(c.agent_id());
      row.push_back(c.identity());
      row.push_back(absl::StrCat(c.active_visitors()));
      row.push_back(c.instance_id());
      row.push_back(absl::StrJoin(c.replicas(), ","));
    }
    table.AddRow(std::move(row));
  }
  ctx.out << table.Render();
  PrintBannedSection(ctx, *admin);
  return Outcome::Ok();
}

Outcome Show(Context& ctx) {
  Outcome o;
  AdminClient* admin = ctx.admin(&o);
  if (admin == nullptr) return o;
  const std::string& id = ctx.args[0];
  v1::GetClientRequest req;
  req.set_client_id(id);
  v1::Client c;
  o = CallUnary(*admin, "GetClient", &v1::AdminService::StubInterface::GetClient, req, &c, NotFound(id));
  if (!o.ok()) return o;
  if (PrintDocument(ctx, c)) return Outcome::Ok();
  ctx.out << KeyValues({
      {"id", c.client_id()},
      {"agent id", c.agent_id()},
      {"identity", c.identity()},
      {"instance", c.instance_id()},
      {"address", c.remote_addr()},
      {"version", c.agent_version()},
      {"labels", Labels(c)},
      {"connected", absl::StrCat(FormatTimestamp(c.connected_at()), " (",
                                 Age(c.connected_at(), ctx.now), " ago)")},
      {"tunnels", c.tunnel_ids().empty() ? std::string("-")
                                         : absl::StrCat(c.tunnel_ids_size(), ": ",
                                                        absl::StrJoin(c.tunnel_ids(), ", "))},
      {"visitors", absl::StrCat(c.active_visitors(), " active")},
      {"bytes in", BytesDetail(c.bytes_in())},
      {"bytes out", BytesDetail(c.bytes_out())},
      {"replicas", absl::StrJoin(c.replicas(), ", ")},
  });
  return Outcome::Ok();
}

Outcome Kick(Context& ctx) {
  Outcome o;
  AdminClient* admin = ctx.admin(&o);
  if (admin == nullptr) return o;
  const std::string& id = ctx.args[0];
  uint32_t ban_seconds = 0;
  if (Outcome u = ParseBanFlag(*ctx.flags, &ban_seconds); !u.ok()) return u;
  // With a ban, learn the identity it applies to first: the operator needs
  // it to lift the ban (and it is gone from the client list afterwards).
  std::string identity;
  if (ban_seconds > 0) {
    v1::GetClientRequest get;
    get.set_client_id(id);
    v1::Client c;
    o = CallUnary(*admin, "GetClient", &v1::AdminService::StubInterface::GetClient, get, &c,
                  NotFound(id));
    if (!o.ok()) return o;
    identity = c.identity();
  }
  v1::DisconnectClientRequest req;
  req.set_client_id(id);
  req.set_reason(ctx.flags->GetString("reason"));
  req.set_ban_seconds(ban_seconds);
  v1::DisconnectClientResponse resp;
  o = CallUnary(*admin, "DisconnectClient", &v1::AdminService::StubInterface::DisconnectClient, req, &resp,
                NotFound(id));
  if (!o.ok()) return o;
  if (PrintDocument(ctx, resp)) return Outcome::Ok();
  ctx.out << "client " << id << " disconnected";
  if (ban_seconds > 0) {
    ctx.out << "; " << (identity.empty() ? std::string("its identity") : identity)
            << " banned for " << HumanDuration(absl::Seconds(ban_seconds));
  }
  ctx.out << "\n";
  return Outcome::Ok();
}

}  // namespace

GroupSpec ClientsGroup() {
  GroupSpec g;
  g.name = "clients";
  g.summary = "List, inspect and disconnect agents.";

  CommandSpec list;
  list.verb = "list";
  list.summary = "List connected agents";
  list.details =
      "Columns: ID ADDRESS VERSION LABELS TUNNELS IN OUT CONNECTED. IN is traffic\n"
      "from visitors over the agent's open tunnels, OUT back to them; CONNECTED is\n"
      "how long ago the agent connected. -o wide adds AGENT-ID IDENTITY VISITORS\n"
      "INSTANCE REPLICAS. When operator bans are in force, a BANNED section follows\n"
      "the table (see 'bans list'). -o json / -o yaml print one ListClientsResponse\n"
      "document with every agent (bans: 'bans list -o json').\n\n"
      "Examples:\n"
      "  reitunnelctl clients list\n"
      "  reitunnelctl clients list -o wide\n"
      "  reitunnelctl clients list --label=team=blue -o json\n";
  list.add_flags = [](config::FlagSet& fs) { AddListFlags(fs, /*labels=*/true); };
  list.run = List;
  g.commands.push_back(std::move(list));

  CommandSpec show;
  show.verb = "show";
  show.args_usage = "ID";
  show.args_missing = "missing the client ID";
  show.min_args = show.max_args = 1;
  show.summary = "Show one agent";
  show.details =
      "Exits 1 when no agent has this ID.\n\n"
      "Examples:\n"
      "  reitunnelctl clients show 3f2a9c0d11e4b7a8\n"
      "  reitunnelctl clients show 3f2a9c0d11e4b7a8 -o json\n";
  show.run = Show;
  g.commands.push_back(std::move(show));

  CommandSpec kick;
  kick.verb = "kick";
  kick.args_usage = "ID";
  kick.args_missing = "missing the client ID";
  kick.min_args = kick.max_args = 1;
  kick.summary = "Disconnect an agent (it does not reconnect); --ban keeps it out";
  kick.details =
      "Closes the agent's session and its tunnels. The agent is told the reason and\n"
      "does not reconnect; hooks get OnTunnelClose for each tunnel, then\n"
      "OnClientDisconnect.\n\n"
      "A process supervisor (systemd Restart=, Kubernetes) starts a kicked agent\n"
      "again. --ban=DURATION also refuses the agent's identity (its --agent-id, else\n"
      "its IP address) for that long: it is told BANNED and retries later. Bans are\n"
      "listed by 'clients list' and 'bans list', lifted by 'bans remove', and\n"
      "cleared by a server restart.\n\n"
      "Examples:\n"
      "  reitunnelctl clients kick 3f2a9c0d11e4b7a8\n"
      "  reitunnelctl clients kick 3f2a9c0d11e4b7a8 --reason=maintenance\n"
      "  reitunnelctl clients kick 3f2a9c0d11e4b7a8 --reason=abuse --ban=24h\n";
  kick.add_flags = [](config::FlagSet& fs) {
    fs.String("reason", "TEXT",
              "shown to the agent and sent to hooks\n(default \"disconnected by admin\")");
    fs.String("ban", "DURATION",
              "also refuse the agent's identity for this\nlong, e.g. 90s, 30m, 1h, 7d (at most 366d)");
  };
  kick.run = Kick;
  g.commands.push_back(std::move(kick));
  return g;
}

}  // namespace reitunnel::cli
