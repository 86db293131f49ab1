// reitunnelctl events watch

#include "cli/commands/events.h"

#include <algorithm>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "cli/commands/commands.h"
#include "cli/commands/util.h"
#include "cli/yaml_output.h"

namespace reitunnel::cli {
namespace {

namespace v1 = ::reitunnel::admin::v1;

// Client and tunnel ids are 16 hex digits.
constexpr int kTimeWidth = 24;
constexpr int kTypeWidth = 18;
constexpr int kIdWidth = 16;

std::string Quoted(const std::string& v) {
  if (!v.empty() && v.find_first_of(" \t\"=") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c == '\n' ? ' ' : c);
  }
  out.push_back('"');
  return out;
}

std::string Kv(const std::string& k, const std::string& v) {
  return absl::StrCat(k, "=", Quoted(v));
}

// "2.0KiB": no space, so key=value pairs stay unquoted.
std::string Bytes(uint64_t n) { return absl::StrReplaceAll(HumanBytes(n), {{" ", ""}}); }

std::string Metadata(const google::protobuf::Map<std::string, std::string>& md,
                     const std::string& key) {
  auto it = md.find(key);
  return it == md.end() ? "" : it->second;
}

std::string Decision(const v1::Event& e) {
  if (e.allowed()) return "allowed";
  return e.reason().empty() ? "denied" : absl::StrCat("denied ", Kv("reason", e.reason()));
}

std::string Detail(const v1::Event& e) {
  std::vector<std::string> parts;
  auto add = [&](const std::string& k, const std::string& v) {
    if (!v.empty()) parts.push_back(Kv(k, v));
  };
  switch (e.payload_case()) {
    case v1::Event::kClientConnect: {
      const auto& p = e.client_connect();
      add("addr", Metadata(p.metadata(), "remote_addr"));
      add("version", Metadata(p.metadata(), "agent_version"));
      parts.push_back(Decision(e));
      break;
    }
    case v1::Event::kClientDisconnect:
      add("reason",
          e.client_disconnect().reason().empty() ? e.reason() : e.client_disconnect().reason());
      break;
    case v1::Event::kTunnelOpen: {
      const auto& p = e.tunnel_open();
      add("name", p.tunnel_name());
      if (const std::string kind = Metadata(p.metadata(), "kind"); kind != "tcp") add("kind", kind);
      add("host", Metadata(p.metadata(), "hostname"));
      if (p.remote_port() != 0) add("port", absl::StrCat(p.remote_port()));
      add("local", p.local_addr());
      parts.push_back(Decision(e));
      break;
    }
    case v1::Event::kTunnelClose: {
      const auto& p = e.tunnel_close();
      add("name", Metadata(p.metadata(), "tunnel_name"));
      add("reason", p.reason().empty() ? e.reason() : p.reason());
      add("in", Bytes(p.bytes_received()));
      add("out", Bytes(p.bytes_sent()));
      add("visitors", absl::StrCat(p.visitors()));
      break;
    }
    case v1::Event::kVisitorConnect:
      add("visitor", e.visitor_connect().visitor_addr());
      break;
    case v1::Event::kVisitorDisconnect: {
      const auto& p = e.visitor_disconnect();
      add("visitor", p.visitor_addr());
      add("in", Bytes(p.bytes_received()));
      add("out", Bytes(p.bytes_sent()));
      add("duration", HumanDuration(absl::Milliseconds(p.duration_ms())));
      break;
    }
    case v1::Event::kError:
      add("component", e.error().component());
      add("message", e.error().message());
      break;
    case v1::Event::kServerStop:
      add("reason", e.server_stop().reason());
      break;
    case v1::Event::PAYLOAD_NOT_SET:
      add("reason", e.reason());
      break;
  }
  return absl::StrJoin(parts, " ");
}

std::string Time(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", ToAbslTime(ts), absl::UTCTimeZone());
}

std::string Row(const std::string& time, const std::string& type, const std::string& client,
                const std::string& tunnel, const std::string& detail) {
  std::string line = absl::StrFormat("%-*s %-*s %-*s %-*s %s", kTimeWidth, time, kTypeWidth, type,
                                     kIdWidth, client.empty() ? "-" : client, kIdWidth,
                                     tunnel.empty() ? "-" : tunnel, detail);
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

// --type=TYPE[,TYPE] (repeatable) into a set; empty: every type.
Outcome ParseTypes(const config::FlagSet& fs, std::set<std::string>* types) {
  for (const std::string& flag : fs.GetRepeated("type")) {
    for (absl::string_view item : absl::StrSplit(flag, ',')) {
      const std::string type(absl::StripAsciiWhitespace(item));
      const auto& known = EventTypes();
      if (std::find(known.begin(), known.end(), type) == known.end()) {
        return Outcome::Usage(absl::StrCat("--type: unknown event type \"", type, "\" (",
                                           absl::StrJoin(known, ", "), ")"));
      }
      types->insert(type);
    }
  }
  return Outcome::Ok();
}

Outcome Watch(Context& ctx) {
  std::set<std::string> types;
  if (Outcome u = ParseTypes(*ctx.flags, &types); !u.ok()) return u;
  Outcome o;
  AdminClient* admin = ctx.admin(&o);
  if (admin == nullptr) return o;
  v1::WatchEventsRequest req;
  req.set_client_id(ctx.flags->GetString("client"));
  req.set_tunnel_id(ctx.flags->GetString("tunnel"));
  grpc::ClientContext c;
  admin->Prepare(&c, /*streaming=*/true);
  auto reader = admin->stub().WatchEvents(&c, req);
  const OutputFormat format = ctx.globals.output;
  bool header = false;
  v1::Event event;
  bool received = false;
  while (reader->Read(&event)) {
    received = true;
    // Filtered here: the API filters by agent and tunnel only. server_stop
    // still ends the watch below when it is filtered out.
    if (!types.empty() && !types.count(event.type())) continue;
    if (format == OutputFormat::kJson) {
      ctx.out << ToJson(event, JsonStyle::kCompact) << std::endl;
      continue;
    }
    if (format == OutputFormat::kYaml) {
      ctx.out << "---\n" << ToYaml(event) << std::flush;
      continue;
    }
    if (!header) {
      ctx.out << EventHeader() << "\n";
      header = true;
    }
    ctx.out << EventLine(event) << std::endl;
  }
  grpc::Status st = reader->Finish();
  if (st.ok()) return Outcome::Ok();
  // After server_stop the server cuts its streams on the way out: that is
  // the end of the watch, not a failure.
  if (event.type() == "server_stop") return Outcome::Ok();
  if (received && st.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return Outcome::Unreachable(absl::StrCat("lost the connection to the admin API at ",
                                             admin->address(), ": ",
                                             DescribeTransportError(st.error_message())));
  }
  return admin->Failure(st, "WatchEvents");
}

}  // namespace

const std::vector<std::string>& EventTypes() {
  static const std::vector<std::string> kTypes = {
      "client_connect",  "client_disconnect",  "tunnel_open", "tunnel_close",
      "visitor_connect", "visitor_disconnect", "error",       "server_stop"};
  return kTypes;
}

std::string EventHeader() { return Row("TIME", "TYPE", "CLIENT", "TUNNEL", "DETAIL"); }

std::string EventLine(const v1::Event& e) {
  return Row(Time(e.time()), e.type(), e.client_id(), e.tunnel_id(), Detail(e));
}

GroupSpec EventsGroup() {
  GroupSpec g;
  g.name = "events";
  g.summary = "Follow the server's lifecycle events live.";
  CommandSpec watch;
  watch.verb = "watch";
  watch.summary = "Print lifecycle events as they happen";
  watch.details =
      "The same events hooks see: client_connect, client_disconnect, tunnel_open,\n"
      "tunnel_close, visitor_connect, visitor_disconnect, error, server_stop. Table\n"
      "output prints one line per event: TIME TYPE CLIENT TUNNEL DETAIL, where\n"
      "DETAIL holds the decision, reason and byte counts. -o json prints one Event\n"
      "object per line (JSON Lines), -o yaml one YAML document per event (each\n"
      "starting with ---), flushed as each arrives. --type keeps only the events of\n"
      "these types. Stops with Ctrl-C; exits 0 when the server ends the stream.\n\n"
      "Examples:\n"
      "  reitunnelctl events watch\n"
      "  reitunnelctl events watch --client=3f2a9c0d11e4b7a8\n"
      "  reitunnelctl events watch --type=tunnel_open,tunnel_close\n"
      "  reitunnelctl events watch -o json | jq 'select(.type == \"tunnel_close\")'\n";
  watch.add_flags = [](config::FlagSet& fs) {
    fs.String("client", "ID", "only this agent's events");
    fs.String("tunnel", "ID", "only this tunnel's events");
    fs.Repeated("type", "TYPE[,TYPE]", "only events of these types (repeatable)");
  };
  watch.run = Watch;
  watch.flag_values = {{"type", EventTypes()}};
  g.commands.push_back(std::move(watch));
  return g;
}

}  // namespace reitunnel::cli
