// reitunnelctl tunnels list|show|close

#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands/commands.h"
#include "cli/commands/util.h"

namespace reitunnel::cli {
namespace {

namespace v1 = ::reitunnel::admin::v1;

std::string NotFound(const std::string& id) {
  return absl::StrCat("no tunnel with id \"", id, "\"");
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

  v1::ListTunnelsRequest req;
  req.set_client_id(ctx.flags->GetString("client"));
  req.set_label_selector(selector);
  v1::ListTunnelsResponse all;
  o = Paginate(
      *admin, "ListTunnels", req, limit, page_size,
      [&](grpc::ClientContext* c, const v1::ListTunnelsRequest& r, v1::ListTunnelsResponse* resp) {
        return admin->stub().ListTunnels(c, r, resp);
      },
      [](v1::ListTunnelsResponse* r) { return r->mutable_tunnels(); }, &all);
  if (!o.ok()) return o;

  if (ctx.globals.output == OutputFormat::kJson) {
    PrintJson(ctx, all);
    return Outcome::Ok();
  }
  Table table({"ID", "NAME", "CLIENT", "PORT", "LOCAL", "VISITORS", "IN", "OUT", "AGE"});
  for (const v1::Tunnel& t : all.tunnels()) {
    table.AddRow({t.tunnel_id(), t.name(), t.client_id(), absl::StrCat(t.remote_port()),
                  t.local_addr(), absl::StrCat(t.active_visitors()), HumanBytes(t.bytes_in()),
                  HumanBytes(t.bytes_out()), Age(t.opened_at(), ctx.now)});
  }
  ctx.out << table.Render();
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
  if (ctx.globals.output == OutputFormat::kJson) {
    PrintJson(ctx, t);
    return Outcome::Ok();
  }
  ctx.out << KeyValues({
      {"id", t.tunnel_id()},
      {"name", t.name()},
      {"client", t.client_id()},
      {"remote port", absl::StrCat(t.remote_port())},
      {"local", t.local_addr()},
      {"opened",
       absl::StrCat(FormatTimestamp(t.opened_at()), " (", Age(t.opened_at(), ctx.now), " ago)")},
      {"visitors", absl::StrCat(t.active_visitors(), " active, ", t.visitors_total(), " total")},
      {"bytes in", BytesDetail(t.bytes_in())},
      {"bytes out", BytesDetail(t.bytes_out())},
  });
  return Outcome::Ok();
}

Outcome Close(Context& ctx) {
  Outcome o;
  AdminClient* admin = ctx.admin(&o);
  if (admin == nullptr) return o;
  const std::string& id = ctx.args[0];
  v1::CloseTunnelRequest req;
  req.set_tunnel_id(id);
  req.set_reason(ctx.flags->GetString("reason"));
  v1::CloseTunnelResponse resp;
  o = CallUnary(*admin, "CloseTunnel", &v1::AdminService::StubInterface::CloseTunnel, req, &resp,
                NotFound(id));
  if (!o.ok()) return o;
  if (ctx.globals.output == OutputFormat::kJson) {
    PrintJson(ctx, resp);
  } else {
    ctx.out << "tunnel " << id << " closed\n";
  }
  return Outcome::Ok();
}

// One function per command: GCC 12 at -O3 reports a false
// -Wmaybe-uninitialized when several CommandSpecs are filled and moved in one
// function body (the SSO buffer of a moved-from string).
CommandSpec ListCommand() {
  CommandSpec list;
  list.verb = "list";
  list.summary = "List open tunnels";
  list.details =
      "Columns: ID NAME CLIENT PORT LOCAL VISITORS IN OUT AGE. VISITORS counts open\n"
      "visitor connections; IN is traffic from visitors, OUT back to them. Follows\n"
      "the admin API's pages until the end (or --limit). -o json prints one\n"
      "ListTunnelsResponse document with every tunnel.\n\n"
      "Examples:\n"
      "  reitunnelctl tunnels list\n"
      "  reitunnelctl tunnels list --client=3f2a9c0d11e4b7a8 -o json\n"
      "  reitunnelctl tunnels list --label=team=blue --label=env=prod\n";
  list.add_flags = [](config::FlagSet& fs) {
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
  close.summary = "Close a tunnel: its public port and visitors";
  close.details =
      "Closes the public listener and every visitor connection of the tunnel; hooks\n"
      "get OnTunnelClose with the reason. The agent stays connected.\n\n"
      "Examples:\n"
      "  reitunnelctl tunnels close 9b1c2d3e4f5a6b7c\n"
      "  reitunnelctl tunnels close 9b1c2d3e4f5a6b7c --reason=\"abuse report\"\n";
  close.add_flags = [](config::FlagSet& fs) {
    fs.String("reason", "TEXT", "sent to hooks (default \"closed by admin\")");
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
