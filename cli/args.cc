#include "cli/args.h"

#include <charconv>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cli/help.h"

namespace reitunnel::cli {
namespace {

// Global String flags as registered; "o" is the short spelling of "output".
constexpr const char* kGlobalStringFlags[] = {
    "admin", "token", "tls-ca", "tls-cert", "tls-key", "tls-server-name", "timeout", "output", "o"};

std::string Canonical(const std::string& name) { return name == "o" ? "output" : name; }

std::string Shown(const std::string& name) {
  return name == "output" ? "-o/--output" : absl::StrCat("--", name);
}

// Global flags collected over every level of the command line.
struct RawGlobals {
  std::map<std::string, std::string> strings;  // canonical name -> value
  bool tls_set = false;
  bool tls = false;
  bool help = false;
  bool version = false;
};

std::string Hint(const GroupSpec* group, const CommandSpec* command) {
  return absl::StrCat(" (see '", CommandPath(group, command), " --help')");
}

Outcome UsageError(const std::string& msg, const GroupSpec* group, const CommandSpec* command) {
  return Outcome::Usage(absl::StrCat(msg, Hint(group, command)));
}

// Moves the global flags `fs` saw into `raw`; a flag given at two levels is
// an error, as it is within one level.
Outcome Collect(const config::FlagSet& fs, RawGlobals* raw, const GroupSpec* group,
                const CommandSpec* command) {
  for (const char* name : kGlobalStringFlags) {
    if (!fs.IsSet(name)) continue;
    const std::string key = Canonical(name);
    // Checked before any positional is looked at: with "--token= SECRET"
    // the secret would otherwise be reported as an unknown command.
    if (key == "token" && fs.GetString(name).empty()) {
      return UsageError("--token needs a value (--token=SECRET)", group, command);
    }
    if (!raw->strings.emplace(key, fs.GetString(name)).second) {
      return UsageError(absl::StrCat(Shown(key), " given more than once"), group, command);
    }
  }
  if (fs.IsSet("tls")) {
    if (raw->tls_set) return UsageError("--tls given more than once", group, command);
    raw->tls_set = true;
    raw->tls = fs.GetBool("tls");
  }
  raw->help = raw->help || fs.GetBool("help") || fs.GetBool("h");
  raw->version = raw->version || fs.GetBool("version");
  return Outcome::Ok();
}

Outcome Parse(config::FlagSet& fs, const std::vector<std::string>& args, RawGlobals* raw,
              const GroupSpec* group, const CommandSpec* command) {
  if (absl::Status st = fs.Parse(args); !st.ok()) {
    return UsageError(std::string(st.message()), group, command);
  }
  return Collect(fs, raw, group, command);
}

Outcome BuildGlobals(const RawGlobals& raw, const EnvLookup& env, const GroupSpec* group,
                     const CommandSpec* command, GlobalOptions* g) {
  auto flag_or_env = [&](const char* name, const char* env_name, std::string* dst,
                         bool* from_flag) {
    if (auto it = raw.strings.find(name); it != raw.strings.end()) {
      *dst = it->second;
      *from_flag = true;
      return;
    }
    *from_flag = false;
    if (env_name != nullptr) {
      if (const char* v = env(env_name); v != nullptr && *v != '\0') *dst = v;
    }
  };
  bool from_flag = false;
  flag_or_env("admin", "REITUNNEL_ADMIN", &g->admin, &from_flag);
  if (g->admin.empty()) return UsageError("--admin needs a value (HOST:PORT)", group, command);
  flag_or_env("token", "REITUNNEL_ADMIN_TOKEN", &g->token, &from_flag);
  for (char c : g->token) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) {
      return UsageError("the token contains characters that cannot be sent in a header", group,
                        command);
    }
  }
  flag_or_env("tls-ca", nullptr, &g->tls_ca, &from_flag);
  flag_or_env("tls-cert", nullptr, &g->tls_cert, &from_flag);
  flag_or_env("tls-key", nullptr, &g->tls_key, &from_flag);
  flag_or_env("tls-server-name", nullptr, &g->tls_server_name, &from_flag);
  if (g->tls_cert.empty() != g->tls_key.empty()) {
    return UsageError("--tls-cert and --tls-key go together", group, command);
  }
  // Any TLS file or name implies --tls unless TLS was turned off explicitly.
  const bool tls_files = !g->tls_ca.empty() || !g->tls_cert.empty() || !g->tls_server_name.empty();
  if (raw.tls_set) {
    g->tls = raw.tls;
    if (!g->tls && tls_files) {
      return UsageError("--tls-* flags need TLS, but --tls=false was given", group, command);
    }
  } else {
    g->tls = tls_files;
  }
  if (auto it = raw.strings.find("timeout"); it != raw.strings.end()) {
    if (!ParseTimeout(it->second, &g->timeout)) {
      return UsageError("--timeout wants a positive duration such as 5s or 500ms", group, command);
    }
  }
  if (auto it = raw.strings.find("output"); it != raw.strings.end()) {
    const std::string v = absl::AsciiStrToLower(it->second);
    if (v == "table") {
      g->output = OutputFormat::kTable;
    } else if (v == "wide") {
      g->output = OutputFormat::kWide;
    } else if (v == "json") {
      g->output = OutputFormat::kJson;
    } else if (v == "yaml") {
      g->output = OutputFormat::kYaml;
    } else {
      return UsageError("-o/--output wants table, wide, json or yaml", group, command);
    }
  }
  return Outcome::Ok();
}

const GroupSpec* FindGroup(const std::vector<GroupSpec>& groups, const std::string& name) {
  for (const GroupSpec& g : groups) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

const CommandSpec* FindCommand(const GroupSpec& group, const std::string& verb) {
  for (const CommandSpec& c : group.commands) {
    if (c.verb == verb) return &c;
  }
  return nullptr;
}

std::string VerbList(const GroupSpec& group) {
  std::string out;
  for (const CommandSpec& c : group.commands)
    absl::StrAppend(&out, out.empty() ? "" : ", ", c.verb);
  return out;
}

}  // namespace

void AddGlobalFlags(config::FlagSet& fs) {
  for (const char* name : kGlobalStringFlags) fs.String(name);
  fs.Bool("tls").Bool("help").Bool("h").Bool("version");
}

bool ParseTimeout(const std::string& text, absl::Duration* out) {
  absl::Duration d;
  int64_t seconds = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, seconds);
  if (!text.empty() && ec == std::errc() && ptr == end) {
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &d)) {
    return false;
  }
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) return false;
  *out = d;
  return true;
}

Outcome ParseCommandLine(const std::vector<std::string>& argv, const std::vector<GroupSpec>& groups,
                         const EnvLookup& env, CommandLine* out) {
  RawGlobals raw;

  // Level 0: globals up to the group name.
  config::FlagSet top;
  AddGlobalFlags(top);
  top.AllowPositionals().StopAtFirstPositional();
  if (Outcome o = Parse(top, argv, &raw, nullptr, nullptr); !o.ok()) return o;
  std::vector<std::string> rest = top.positionals();
  if (rest.empty()) {
    if (raw.help) {
      out->action = Action::kHelp;
      out->help_text = TopLevelHelp(groups);
      return Outcome::Ok();
    }
    if (raw.version) {
      out->action = Action::kVersion;
      return Outcome::Ok();
    }
    return UsageError("missing command", nullptr, nullptr);
  }
  const GroupSpec* group = FindGroup(groups, rest[0]);
  if (group == nullptr) {
    return UsageError(absl::StrCat("unknown command \"", rest[0], "\""), nullptr, nullptr);
  }
  rest.erase(rest.begin());

  // Level 1 (groups with subcommands): globals up to the verb.
  const CommandSpec* command = nullptr;
  if (group->IsLeaf()) {
    command = &group->commands[0];
  } else {
    config::FlagSet mid;
    AddGlobalFlags(mid);
    mid.AllowPositionals().StopAtFirstPositional();
    if (Outcome o = Parse(mid, rest, &raw, group, nullptr); !o.ok()) return o;
    rest = mid.positionals();
    if (rest.empty()) {
      if (raw.help) {
        out->action = Action::kHelp;
        out->group = group;
        out->help_text = GroupHelp(*group);
        return Outcome::Ok();
      }
      return UsageError(absl::StrCat("missing subcommand (", VerbList(*group), ")"), group,
                        nullptr);
    }
    command = FindCommand(*group, rest[0]);
    if (command == nullptr) {
      return UsageError(
          absl::StrCat("unknown subcommand \"", rest[0], "\" (", VerbList(*group), ")"), group,
          nullptr);
    }
    rest.erase(rest.begin());
  }

  // Last level: the command's own flags, globals and positionals, any order.
  config::FlagSet& fs = out->flags;
  AddGlobalFlags(fs);
  if (command->add_flags) command->add_flags(fs);
  fs.AllowPositionals(command->max_args > 0);
  if (Outcome o = Parse(fs, rest, &raw, group, command); !o.ok()) return o;
  out->group = group;
  out->command = command;
  if (raw.help) {
    out->action = Action::kHelp;
    out->help_text = CommandHelp(*group, *command);
    return Outcome::Ok();
  }
  out->args = fs.positionals();
  const int n = static_cast<int>(out->args.size());
  if (n < command->min_args) return UsageError(command->args_missing, group, command);
  if (n > command->max_args) {
    return UsageError(absl::StrCat("unexpected argument #", command->max_args + 1), group, command);
  }
  out->action = Action::kRun;
  return BuildGlobals(raw, env, group, command, &out->globals);
}

}  // namespace reitunnel::cli
