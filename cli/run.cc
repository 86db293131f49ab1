#include "cli/run.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "cli/admin_client.h"
#include "cli/commands/commands.h"
#include "cli/help.h"
#include "common/version.h"

namespace reitunnel::cli {
namespace {

int Report(std::ostream& err, const Outcome& outcome, const std::string& token) {
  err << kProgram << ": " << Redact(outcome.message, token) << "\n";
  err.flush();
  return outcome.exit_code;
}

}  // namespace

std::string Redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  return absl::StrReplaceAll(text, {{secret, "<redacted>"}});
}

int Run(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err,
        const EnvLookup& env) {
  CommandLine cl;
  if (Outcome o = ParseCommandLine(argv, AllGroups(), env, &cl); !o.ok()) {
    return Report(err, o, cl.globals.token);
  }
  switch (cl.action) {
    case Action::kHelp:
      out << cl.help_text;
      out.flush();
      return kExitOk;
    case Action::kVersion:
      out << kProgram << " " << kVersion << "\n";
      out.flush();
      return kExitOk;
    case Action::kRun:
      break;
  }

  std::unique_ptr<AdminClient> client;
  auto admin = [&](Outcome* o) -> AdminClient* {
    if (!client) {
      *o = AdminClient::Create(cl.globals, &client);
      if (!o->ok()) return nullptr;
    }
    return client.get();
  };
  Context ctx{.globals = cl.globals,
              .out = out,
              .err = err,
              .admin = admin,
              .args = cl.args,
              .flags = &cl.flags,
              .now = absl::Now()};
  Outcome o = cl.command->run(ctx);
  out.flush();
  if (o.ok()) return kExitOk;
  if (o.exit_code == kExitUsage) {
    absl::StrAppend(&o.message, " (see '", CommandPath(cl.group, cl.command), " --help')");
  }
  return Report(err, o, cl.globals.token);
}

}  // namespace reitunnel::cli
