// auth-hook: admission policy for agents and tunnels.
//
//   auth-hook --listen=127.0.0.1:7100 --allow-label=team=blue
//             --allow-ports=20000-20100 --deny-tunnel-name='^admin'
//   auth-hook --listen=127.0.0.1:7100 --allow-agent=web-1 --allow-agent=db-7
//
// - OnClientConnect: with --allow-label (repeatable), an agent is allowed when
//   it carries at least one of the listed labels; others are denied with the
//   labels they would need. Without it every agent passes. Labels are what an
//   agent says about itself (unless the server's agents: list sets them):
//   --allow-agent=ID (repeatable) is the rule that authenticates. Only an
//   agent that proved one of these identities with its own token passes
//   (metadata agent_id, which the server sets only then; claimed_agent_id,
//   an id sent with the shared token, never counts). Both rules apply when
//   both are given.
// - OnTunnelOpen: a requested public port outside --allow-ports is denied
//   (port 0, "server picks", is allowed); a tunnel name matching any
//   --deny-tunnel-name (RE2 syntax, searched anywhere in the name: anchor
//   with ^ and $) is denied. RE2 matches in linear time, so a name chosen by
//   an agent cannot make a policy regex backtrack for ever.
// - --policy=FILE holds the same flags, one per line without the leading
//   "--", with # comments; command-line flags add to it.
//
// Tokens never go into labels: labels are logged by the server and by hooks.
// Every decision is logged as one JSON line on stdout.
//
// The policy is immutable once parsed, so concurrent calls need no locking.

#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "examples/common/json_line.h"
#include "re2/re2.h"
#include "reitunnel/hookd/hookd.h"

namespace hookd = reitunnel::hookd;
using hookd::examples::JsonLine;

namespace {

struct Policy {
  std::vector<std::string> allow_agents;
  std::vector<std::pair<std::string, std::string>> allow_labels;
  bool has_port_range = false;
  uint32_t port_low = 0;
  uint32_t port_high = 0;
  std::vector<std::unique_ptr<RE2>> deny_names;
};

// Applies one "--name=value" (or "name=value" from a policy file) to
// `policy`.
absl::Status ApplyFlag(absl::string_view arg, Policy& policy, std::vector<std::string>& files) {
  absl::ConsumePrefix(&arg, "--");
  std::pair<std::string, std::string> kv = absl::StrSplit(arg, absl::MaxSplits('=', 1));
  const std::string& name = kv.first;
  const std::string& value = kv.second;
  if (name == "allow-agent") {
    if (value.empty()) return absl::InvalidArgumentError("--allow-agent: want an agent id");
    policy.allow_agents.push_back(value);
  } else if (name == "allow-label") {
    std::pair<std::string, std::string> label = absl::StrSplit(value, absl::MaxSplits('=', 1));
    if (label.first.empty() || value.find('=') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("--allow-label=", value, ": want KEY=VALUE"));
    }
    policy.allow_labels.push_back(std::move(label));
  } else if (name == "allow-ports") {
    std::pair<std::string, std::string> range = absl::StrSplit(value, absl::MaxSplits('-', 1));
    if (!absl::SimpleAtoi(range.first, &policy.port_low) ||
        !absl::SimpleAtoi(range.second, &policy.port_high) || policy.port_low == 0 ||
        policy.port_low > policy.port_high || policy.port_high > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("--allow-ports=", value, ": want LOW-HIGH within 1-65535"));
    }
    policy.has_port_range = true;
  } else if (name == "deny-tunnel-name") {
    auto re = std::make_unique<RE2>(value, RE2::Quiet);
    if (!re->ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--deny-tunnel-name=", value, ": bad regex: ", re->error()));
    }
    policy.deny_names.push_back(std::move(re));
  } else if (name == "policy") {
    files.push_back(value);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown flag \"", arg, "\""));
  }
  return absl::OkStatus();
}

absl::Status LoadPolicyFile(const std::string& path, Policy& policy) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read policy file ", path));
  std::string line;
  std::vector<std::string> nested;
  for (int number = 1; std::getline(in, line); ++number) {
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    if (absl::Status s = ApplyFlag(text, policy, nested); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": ", s.message()));
    }
  }
  if (!nested.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": policy files cannot include others"));
  }
  return absl::OkStatus();
}

class AuthHook : public hookd::Hook {
 public:
  explicit AuthHook(Policy policy) : policy_(std::move(policy)) {}

  absl::Status OnClientConnect(const hookd::ClientConnectRequest& request) override {
    absl::Status decision = CheckIdentity(request.metadata());
    if (decision.ok()) decision = CheckLabels(request.metadata());
    Log("client_connect", request.client_id(), "", decision);
    return decision;
  }

  absl::Status OnTunnelOpen(const hookd::TunnelOpenRequest& request) override {
    absl::Status decision = CheckTunnel(request);
    Log("tunnel_open", request.client_id(), request.tunnel_name(), decision);
    return decision;
  }

 private:
  absl::Status CheckIdentity(const hookd::Metadata& metadata) const {
    if (policy_.allow_agents.empty()) return hookd::Allow();
    auto verified = metadata.find("agent_id");
    if (verified != metadata.end() &&
        std::find(policy_.allow_agents.begin(), policy_.allow_agents.end(), verified->second) !=
            policy_.allow_agents.end()) {
      return hookd::Allow();
    }
    if (verified != metadata.end()) {
      return hookd::Deny(absl::StrCat("agent \"", verified->second, "\" is not allowed"));
    }
    auto claimed = metadata.find("claimed_agent_id");
    return hookd::Deny(claimed != metadata.end()
                           ? absl::StrCat("agent id \"", claimed->second,
                                          "\" was not proven (shared token): not allowed")
                           : std::string("agent has no verified identity: not allowed"));
  }

  absl::Status CheckLabels(const hookd::Metadata& metadata) const {
    if (policy_.allow_labels.empty()) return hookd::Allow();
    for (const auto& [key, value] : policy_.allow_labels) {
      if (hookd::FindLabel(metadata, key) == value) return hookd::Allow();
    }
    std::vector<std::string> wanted;
    for (const auto& [key, value] : policy_.allow_labels) wanted.push_back(key + "=" + value);
    std::vector<std::string> has;
    for (const auto& [key, value] : metadata) {
      if (absl::StartsWith(key, "label.")) has.push_back(key.substr(6) + "=" + value);
    }
    std::sort(has.begin(), has.end());  // the map's order is unspecified
    return hookd::Deny(absl::StrCat(
        "agent not allowed: needs label ", absl::StrJoin(wanted, " or "),
        has.empty() ? " (agent has no labels)"
                    : absl::StrCat(" (agent labels: ", absl::StrJoin(has, ", "), ")")));
  }

  absl::Status CheckTunnel(const hookd::TunnelOpenRequest& request) const {
    const uint32_t port = request.remote_port();
    if (policy_.has_port_range && port != 0 &&
        (port < policy_.port_low || port > policy_.port_high)) {
      return hookd::Deny(absl::StrCat("remote port ", port, " is outside the allowed range ",
                                      policy_.port_low, "-", policy_.port_high));
    }
    for (const std::unique_ptr<RE2>& re : policy_.deny_names) {
      if (RE2::PartialMatch(request.tunnel_name(), *re)) {
        return hookd::Deny(
            absl::StrCat("tunnel name \"", request.tunnel_name(), "\" is reserved by policy"));
      }
    }
    return hookd::Allow();
  }

  static void Log(const char* event, const std::string& client_id, const std::string& tunnel,
                  const absl::Status& decision) {
    JsonLine line;
    line.Str("event", event).Str("client_id", client_id);
    if (!tunnel.empty()) line.Str("tunnel_name", tunnel);
    line.Str("decision", decision.ok() ? "allow" : "deny");
    if (!decision.ok()) line.Str("reason", std::string(decision.message()));
    line.Emit();
  }

  const Policy policy_;
};

constexpr char kUsage[] =
    "usage: auth-hook [flags]\n"
    "  --allow-agent=ID           allow only agents that proved this identity (repeatable)\n"
    "  --allow-label=KEY=VALUE    allow agents carrying this label (repeatable; any matches)\n"
    "  --allow-ports=LOW-HIGH     deny tunnels asking for a public port outside the range\n"
    "  --deny-tunnel-name=REGEX   deny tunnels whose name matches (repeatable)\n"
    "  --policy=FILE              the flags above, one per line without \"--\"\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> rest;
  absl::StatusOr<hookd::HookServerOptions> options = hookd::ParseServerFlags(argc, argv, &rest);
  Policy policy;
  std::vector<std::string> files;
  absl::Status status = options.status();
  for (size_t i = 0; status.ok() && i < rest.size(); ++i) {
    if (rest[i] == "--help" || rest[i] == "-h") {
      std::cout << kUsage << hookd::ServerFlagsHelp();
      return 0;
    }
    status = ApplyFlag(rest[i], policy, files);
  }
  for (size_t i = 0; status.ok() && i < files.size(); ++i) {
    status = LoadPolicyFile(files[i], policy);
  }
  if (!status.ok()) {
    std::cerr << "auth-hook: " << status.message() << "\n" << kUsage;
    return 2;
  }
  options->name = "auth-hook";  // reported in Describe
  hookd::HookServer server(*options);
  server.AddHook(std::make_unique<AuthHook>(std::move(policy)));
  return hookd::ServeMain(server);
}
