// reitunnelctl agents list|revoke: per-agent identities (server config
// agents:).

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

Outcome List(Context& ctx) {
  Outcome o;
  AdminClient* admin = ctx.admin(&o);
  if (admin == nullptr) return o;
  v1::ListAgentIdentitiesResponse resp;
  o = CallUnary(*admin, "ListAgentIdentities",
                &v1::AdminService::StubInterface::ListAgentIdentities,
                v1::ListAgentIdentitiesRequest(), &resp, "no agent identities");
  if (!o.ok()) return o;
  if (PrintDocument(ctx, resp)) return Outcome::Ok();
  std::vector<std::string> headers = {"ID", "STATE", "SESSIONS", "LABELS", "PORTS", "HOSTS"};
  if (Wide(ctx)) {
    headers.push_back("KEY-ID");
    headers.push_back("SOURCE");
  }
  Table table(headers);
  for (const v1::AgentIdentityInfo& a : resp.agents()) {
    std::vector<std::pair<std::string, std::string>> labels(a.labels().begin(),
                                                            a.labels().end());
    std::vector<std::string> row = {
        a.id(), a.state(),
        a.client_ids().empty() ? std::string("-") : absl::StrJoin(a.client_ids(), ","),
        FormatLabels(labels),
        a.allowed_ports().empty() ? std::string("any") : absl::StrJoin(a.allowed_ports(), ","),
        a.allowed_hostnames().empty() ? std::string("any")
                                      : absl::StrJoin(a.allowed_hostnames(), ",")};
    if (Wide(ctx)) {
      row.push_back(a.key_id());
      row.push_back(a.source());
    }
    table.AddRow(std::move(row));
  }
  ctx.out << table.Render();
  ctx.out << (resp.shared_token() ? "the shared token is accepted as well\n"
                                  : "no shared token: only these agents may connect\n");
  return Outcome::Ok();
}

Outcome Revoke(Context& ctx) {
  Outcome o;
  AdminClient* admin = ctx.admin(&o);
  if (admin == nullptr) return o;
  const std::string& id = ctx.args[0];
  v1::RevokeAgentIdentityRequest req;
  req.set_id(id);
  v1::RevokeAgentIdentityResponse resp;
  o = CallUnary(*admin, "RevokeAgentIdentity",
                &v1::AdminService::StubInterface::RevokeAgentIdentity, req, &resp,
                absl::StrCat("no agent \"", id, "\" in the server's agents: list"));
  if (!o.ok()) return o;
  if (PrintDocument(ctx, resp)) return Outcome::Ok();
  ctx.out << "agent " << id << " revoked until the server restarts; " << resp.sessions_cut()
          << (resp.sessions_cut() == 1 ? " session" : " sessions") << " ended\n";
  return Outcome::Ok();
}

}  // namespace

GroupSpec AgentsGroup() {
  GroupSpec g;
  g.name = "agents";
  g.summary = "List and revoke per-agent identities (server config agents:).";

  CommandSpec list;
  list.verb = "list";
  list.summary = "List configured agent identities with their sessions";
  list.details =
      "Columns: ID STATE SESSIONS LABELS PORTS. STATE is active or revoked;\n"
      "SESSIONS the client ids proven with the identity; LABELS the labels the\n"
      "server sets for it; PORTS its allowed public ports (any: the whole range).\n"
      "-o wide adds KEY-ID (names the key, cannot authenticate) and SOURCE. Token\n"
      "hashes are never shown.\n\n"
      "Examples:\n"
      "  reitunnelctl agents list\n"
      "  reitunnelctl agents list -o json\n";
  list.run = List;
  g.commands.push_back(std::move(list));

  CommandSpec revoke;
  revoke.verb = "revoke";
  revoke.args_usage = "ID";
  revoke.args_missing = "missing the agent ID";
  revoke.min_args = revoke.max_args = 1;
  revoke.summary = "Refuse an agent identity until restart and end its sessions";
  revoke.details =
      "The agent is told why and does not reconnect; its token is refused until\n"
      "the server restarts, even across reloads. Remove it from agents: (or give\n"
      "it a new token there) and send SIGHUP to make the change last. Only that\n"
      "agent is affected. Exits 1 when ID is not a configured agent (agents that\n"
      "use the shared token have no identity to revoke: see 'clients kick --ban').\n\n"
      "Examples:\n"
      "  reitunnelctl agents revoke db-7\n";
  revoke.run = Revoke;
  g.commands.push_back(std::move(revoke));
  return g;
}

}  // namespace reitunnel::cli
