// reitunnelctl status

#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands/commands.h"
#include "cli/commands/util.h"

namespace reitunnel::cli {
namespace {

namespace v1 = ::reitunnel::admin::v1;

std::string OrOff(const std::string& s) { return s.empty() ? "off" : s; }

Outcome Status(Context& ctx) {
  Outcome o;
  AdminClient* admin = ctx.admin(&o);
  if (admin == nullptr) return o;
  v1::GetServerInfoRequest req;
  v1::ServerInfo info;
  grpc::ClientContext c;
  admin->Prepare(&c);
  grpc::Status st = admin->stub().GetServerInfo(&c, req, &info);
  if (!st.ok()) return admin->Failure(st, "GetServerInfo");
  if (PrintDocument(ctx, info)) return Outcome::Ok();
  ctx.out << KeyValues({
      {"version", info.version()},
      {"instance", info.instance_id()},
      {"uptime", absl::StrCat(HumanDuration(absl::Seconds(info.uptime_seconds())), " (since ",
                              FormatTimestamp(info.started_at()), ")")},
      {"listen", info.listen_addr()},
      {"admin", info.admin_addr()},
      {"metrics", OrOff(info.metrics_addr())},
      {"public ports", info.public_ports()},
      {"tls", info.tls() ? "on" : "off"},
      {"draining", info.draining() ? "yes" : "no"},
      {"workers", absl::StrCat(info.workers())},
      {"data plane", info.data_plane_healthy()
                         ? "healthy"
                         : "UNHEALTHY (a worker missed the watchdog; health is NOT_SERVING)"},
      {"clients", absl::StrCat(info.clients())},
      {"tunnels", absl::StrCat(info.tunnels())},
      {"visitors", absl::StrCat(info.active_visitors())},
      {"bytes in", BytesDetail(info.bytes_in())},
      {"bytes out", BytesDetail(info.bytes_out())},
  });
  if (ctx.flags->GetBool("config")) {
    ctx.out << "\n# effective configuration (secrets redacted)\n" << info.config_yaml();
    if (!info.config_yaml().empty() && info.config_yaml().back() != '\n') ctx.out << "\n";
  }
  return Outcome::Ok();
}

}  // namespace

GroupSpec StatusGroup() {
  GroupSpec g;
  g.name = "status";
  g.summary = "Show the server's version, listeners and counts";
  CommandSpec status;
  status.summary = g.summary;
  status.details =
      "Prints key/value lines: version, instance, uptime, listen, admin, metrics,\n"
      "public ports, tls, draining, workers (data-plane threads), data plane (healthy,\n"
      "or UNHEALTHY while a worker thread misses the watchdog), clients, tunnels,\n"
      "visitors, bytes in/out. -o json / -o yaml print the ServerInfo message,\n"
      "including the effective configuration.\n\n"
      "Examples:\n"
      "  reitunnelctl status\n"
      "  reitunnelctl status --config\n"
      "  reitunnelctl status -o json\n";
  status.add_flags = [](config::FlagSet& fs) {
    fs.Bool("config", "also print the effective configuration\n(secrets redacted)");
  };
  status.run = Status;
  g.commands.push_back(std::move(status));
  return g;
}

}  // namespace reitunnel::cli
