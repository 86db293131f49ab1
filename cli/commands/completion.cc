// reitunnelctl completion bash|zsh

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands/commands.h"
#include "cli/completion.h"

namespace reitunnel::cli {
namespace {

Outcome Completion(Context& ctx) {
  const std::string& shell = ctx.args[0];
  if (shell == "bash") {
    ctx.out << BashCompletion(AllGroups());
  } else if (shell == "zsh") {
    ctx.out << ZshCompletion(AllGroups());
  } else {
    return Outcome::Usage(absl::StrCat("unknown shell \"", shell, "\" (",
                                       absl::StrJoin(kCompletionShells, ", "), ")"));
  }
  return Outcome::Ok();
}

}  // namespace

GroupSpec CompletionGroup() {
  GroupSpec g;
  g.name = "completion";
  g.summary = "Print a shell completion script (bash or zsh)";
  CommandSpec c;
  c.args_usage = "SHELL";
  c.args_missing = "missing the shell (bash or zsh)";
  c.min_args = c.max_args = 1;
  c.summary = g.summary;
  c.details =
      "Completes command words, flags, -o formats, event types and file names (IDs\n"
      "would need the server, so they are not completed). Needs no server.\n\n"
      "Examples:\n"
      "  source <(reitunnelctl completion bash)\n"
      "  reitunnelctl completion bash > /etc/bash_completion.d/reitunnelctl\n"
      "  reitunnelctl completion zsh > \"${fpath[1]}/_reitunnelctl\"   # then compinit\n";
  c.arg_values = {std::begin(kCompletionShells), std::end(kCompletionShells)};
  c.run = Completion;
  g.commands.push_back(std::move(c));
  return g;
}

}  // namespace reitunnel::cli
