// reitunnelctl tunnels list|show|close

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands/commands.h"
#include "cli/commands/util.h"

namespace reitunnel::cli {
namespace {

namespace v1 = ::reitunnel::admin::v1;

std::string NotFound(const std::string& id) {
  return absl::StrCat("no tunnel with id \"", id, "\"");
}

bool IsOpen(const v1::Tunnel& t) { return t.state().empty() || t.state() == "open"; }

// The public port: the bound one when open, else what was asked for.
std::string Port(const v1::Tunnel& t) {
  if (IsOpen(t)) return absl::StrCat(t.remote_port());
  return t.requested_port() == 0 ? "any" : absl::StrCat(t.requested_port());
}

// How long the tunnel has been in its state: open since opened_at, the
// others since state_since.
std::string StateAge(const v1::Tunnel& t, absl::Time now) {
  return Age(IsOpen(t) || !t.has_state_since() ? t.opened_at() : t.state_since(), now);
}

Table TunnelTable(const v1::ListTunnelsResponse& all, bool all_states, bool wide, absl::Time now) {
  // HOST only when a routed (http, tls) tunnel is listed: TCP-only output
  // keeps its columns.
  bool routed = false;
  for (const v1::Tunnel& t : all.tunnels()) routed = routed || !t.hostname().empty();
  std::vector<std::string> headers = {"ID", "NAME", "CLIENT"};
  if (all_states) headers.push_back("STATE");
  headers.push_back("PORT");
  if (routed) headers.push_back("HOST");
  for (const char* h : {"LOCAL", "VISITORS", "IN", "OUT", "AGE"}) headers.push_back(h);
  if (wide) {
    for (const char* h : {"KIND", "REQUESTED", "ATTEMPTS", "TOTAL", "OPENED", "REPLICAS"}) {
      headers.push_back(h);
    }
  }
  // Last: free text that may hold spaces.
  if (all_states) headers.push_back("LAST ERROR");
  Table table(headers);
  for (const v1::Tunnel& t : all.tunnels()) {
    std::vector<std::string> row = {t.tunnel_id(), t.name(), t.client_id()};
    if (all_states) row.push_back(t.state().empty() ? "open" : t.state());
    row.push_back(Port(t));
    if (routed) {
      row.push_back(t.hostname().empty() ? "-" : absl::StrCat(t.kind(), "://", t.hostname()));
    }
    for (std::string cell :
         {t.local_addr(), absl::StrCat(t.active_visitors()), HumanBytes(t.bytes_in()),
          HumanBytes(t.bytes_out()), StateAge(t, now)}) {
      row.push_back(std::move(cell));
    }
    if (wide) {
      row.push_back(t.kind());
      row.push_back(t.requested_port() == 0 ? "any" : absl::StrCat(t.requested_port()));
      row.push_back(absl::StrCat(t.attempts()));
      row.push_back(absl::StrCat(t.visitors_total()));
      row.push_back(FormatTimestamp(t.opened_at()));
      row.push_back(absl::StrJoin(t.replicas(), ","));
    }
    if (all_states) row.push_back(t.last_error());
    table.AddRow(std::move(row));
  }
  return table;
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

  const bool all_states = ctx.flags->GetBool("all");
  v1::ListTunnelsRequest req;
  req.set_client_id(ctx.flags->GetString("client"));
  req.set_label_selector(selector);
  req.set_include_not_open(all_states);
  v1::ListTunnelsResponse all;
  o = Paginate(
      *admin, "ListTunnels", req, limit, page_size,
      [&](grpc::ClientContext* c, const v1::ListTunnelsRequest& r, v1::ListTunnelsResponse* resp) {
        return admin->stub().ListTunnels(c, r, resp);
      },
      [](v1::ListTunnelsResponse* r) { return r->mutable_tunnels(); }, &all);
  if (!o.ok()) return o;

  if (PrintDocument(ctx, all)) return Outcome::Ok();
  ctx.out << TunnelTable(all, all_states, Wide(ctx), ctx.now).Render();
  return Outcome::Ok();
}

Outcome Show(Context& ctx) {
  Outcome o;
  AdminClient* admin = ctx.admin(&o);
  if (admin == nullptr) return o;
  const std::string& id = ctx.args[0];
  v1::GetTunnelRequest req;
  req.set_tunnel_id(id);
  v1::Tunnel t;
  o = CallUnary(*admin, "GetTunnel", &v1::AdminService::StubInterface::GetTunnel, req, &t, NotFound(id));
  if (!o.ok()) return o;
  if (PrintDocument(ctx, t)) return Outcome::Ok();
  ctx.out << KeyValues({
      {"id", t.tunnel_id()},
      {"name", t.name()},
      {"kind", t.kind()},
      {"hostname", t.hostname().empty() ? "-" : t.hostname()},
      {"client", t.client_id()},
      {"remote port", absl::StrCat(t.remote_port())},
      {"local", t.local_addr()},
      {"opened",
       absl::StrCat(FormatTimestamp(t.opened_at()), " (", Age(t.opened_at(), ctx.now), " ago)")},
      {"visitors", absl::StrCat(t.active_visitors(), " active, ", t.visitors_total(), " total")},
      {"bytes in", BytesDetail(t.bytes_in())},
      {"bytes out", BytesDetail(t.bytes_out())},
      {"replicas", absl::StrJoin(t.replicas(), ", ")},
  });
  return Outcome::Ok();
}

Outcome Close(Context& ctx) {
  Outcome o;
  AdminClient* admin = ctx.admin(&o);
  if (admin == nullptr) return o;
  const std::string& id = ctx.args[0];
  uint32_t ban_seconds = 0;
  if (Outcome u = ParseBanFlag(*ctx.flags, &ban_seconds); !u.ok()) return u;
  v1::CloseTunnelRequest req;
  req.set_tunnel_id(id);
  req.set_reason(ctx.flags->GetString("reason"));
  req.set_ban_seconds(ban_seconds);
  v1::CloseTunnelResponse resp;
  o = CallUnary(*admin, "CloseTunnel", &v1::AdminService::StubInterface::CloseTunnel, req, &resp,
                NotFound(id));
  if (!o.ok()) return o;
  if (PrintDocument(ctx, resp)) return Outcome::Ok();
  ctx.out << "tunnel " << id << " closed";
  if (ban_seconds > 0) {
    ctx.out << "; its name banned for this agent for " << HumanDuration(absl::Seconds(ban_seconds));
  }
  ctx.out << "\n";
  return Outcome::Ok();
}

// One function per command: GCC 12 at -O3 reports a false
// -Wmaybe-uninitialized when several CommandSpecs are filled and moved in one
// function body (the SSO buffer of a moved-from string).
CommandSpec ListCommand() {
  CommandSpec list;
  list.verb = "list";
  list.summary = "List open tunnels (--all: also refused and pending ones)";
  list.details =
      "Columns: ID NAME CLIENT PORT LOCAL VISITORS IN OUT AGE. VISITORS counts open\n"
      "visitor connections; IN is traffic from visitors, OUT back to them. Follows\n"
      "the admin API's pages until the end (or --limit).\n\n"
      "--all also lists the tunnels agents asked for that are not open, with a\n"
      "STATE column (open, pending, refused: the agent may be retrying, closed: by\n"
      "an operator) and LAST ERROR, e.g. \"PORT_IN_USE: ...\" or \"BANNED: ...\".\n"
      "Those have no ID; PORT is the port asked for (any: the server picks) and AGE\n"
      "the time in that state. -o wide adds KIND REQUESTED ATTEMPTS TOTAL (visitors\n"
      "ever) OPENED REPLICAS. -o json / -o yaml print one ListTunnelsResponse\n"
      "document with every tunnel.\n\n"
      "Examples:\n"
      "  reitunnelctl tunnels list\n"
      "  reitunnelctl tunnels list --all\n"
      "  reitunnelctl tunnels list --client=3f2a9c0d11e4b7a8 -o json\n"
      "  reitunnelctl tunnels list --label=team=blue --label=env=prod -o wide\n";
  list.add_flags = [](config::FlagSet& fs) {
    fs.Bool("all", "also tunnels that are not open (refused,\npending, closed), with the reason");
    fs.String("client", "ID", "only this agent's tunnels");
    AddListFlags(fs, /*labels=*/true);
  };
  list.run = List;
  return list;
}

CommandSpec ShowCommand() {
  CommandSpec show;
  show.verb = "show";
  show.args_usage = "ID";
  show.args_missing = "missing the tunnel ID";
  show.min_args = show.max_args = 1;
  show.summary = "Show one tunnel";
  show.details =
      "Exits 1 when no tunnel has this ID.\n\n"
      "Examples:\n"
      "  reitunnelctl tunnels show 9b1c2d3e4f5a6b7c\n"
      "  reitunnelctl tunnels show 9b1c2d3e4f5a6b7c -o json\n";
  show.run = Show;
  return show;
}

CommandSpec CloseCommand() {
  CommandSpec close;
  close.verb = "close";
  close.args_usage = "ID";
  close.args_missing = "missing the tunnel ID";
  close.min_args = close.max_args = 1;
  close.summary = "Close a tunnel: its public port and visitors; --ban keeps it closed";
  close.details =
      "Closes the public listener and every visitor connection of the tunnel; hooks\n"
      "get OnTunnelClose with the reason. The agent stays connected.\n\n"
      "The agent asks for the tunnel again when it reconnects. --ban=DURATION\n"
      "refuses this tunnel name of this agent for that long (BANNED, shown by\n"
      "'tunnels list --all' and 'bans list'; lifted by 'bans remove IDENTITY\n"
      "--tunnel=NAME').\n\n"
      "Examples:\n"
      "  reitunnelctl tunnels close 9b1c2d3e4f5a6b7c\n"
      "  reitunnelctl tunnels close 9b1c2d3e4f5a6b7c --reason=\"abuse report\"\n"
      "  reitunnelctl tunnels close 9b1c2d3e4f5a6b7c --reason=\"abuse report\" --ban=7d\n";
  close.add_flags = [](config::FlagSet& fs) {
    fs.String("reason", "TEXT", "sent to hooks (default \"closed by admin\")");
    fs.String("ban", "DURATION",
              "also refuse this tunnel name of the agent\nfor this long, e.g. 30m, 1h, 7d");
  };
  close.run = Close;
  return close;
}

}  // namespace

GroupSpec TunnelsGroup() {
  GroupSpec g;
  g.name = "tunnels";
  g.summary = "List, inspect and close tunnels (public ports).";
  g.commands.push_back(ListCommand());
  g.commands.push_back(ShowCommand());
  g.commands.push_back(CloseCommand());
  return g;
}

}  // namespace reitunnel::cli
