#include "cli/completion.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "cli/args.h"
#include "common/config/flags.h"

namespace reitunnel::cli {
namespace {

// A flag as typed: "--admin", "-o".
struct FlagWord {
  std::string word;
  bool takes_value = false;
};

// Completed with file names.
constexpr const char* kFileFlags[] = {"--tls-ca", "--tls-cert", "--tls-key"};

std::string Dashed(const std::string& name) {
  return name.size() == 1 ? absl::StrCat("-", name) : absl::StrCat("--", name);
}

std::vector<FlagWord> Words(const config::FlagSet& fs) {
  std::vector<FlagWord> out;
  for (const auto& [name, takes_value] : fs.Names()) {
    if (name == "h") continue;  // --help is offered; -h works all the same
    out.push_back({Dashed(name), takes_value});
  }
  return out;
}

std::vector<FlagWord> GlobalWords() {
  config::FlagSet fs;
  AddGlobalFlags(fs);
  return Words(fs);
}

std::vector<FlagWord> CommandWords(const CommandSpec& c) {
  config::FlagSet fs;
  if (c.add_flags) c.add_flags(fs);
  return Words(fs);
}

// "--admin= --tls -o": flags that take a value end in "=" (except the short
// -o, whose value follows as the next word).
std::vector<std::string> Offered(const std::vector<FlagWord>& flags) {
  std::vector<std::string> out;
  for (const FlagWord& f : flags) {
    const bool short_flag = f.word.size() == 2;
    out.push_back(f.takes_value && !short_flag ? absl::StrCat(f.word, "=") : f.word);
  }
  return out;
}

// Every flag word that takes a value, over all commands and the globals.
std::vector<std::string> ValueFlags(const std::vector<GroupSpec>& groups) {
  std::set<std::string> words;
  for (const FlagWord& f : GlobalWords()) {
    if (f.takes_value) words.insert(f.word);
  }
  for (const GroupSpec& g : groups) {
    for (const CommandSpec& c : g.commands) {
      for (const FlagWord& f : CommandWords(c)) {
        if (f.takes_value) words.insert(f.word);
      }
    }
  }
  return {words.begin(), words.end()};
}

// Flag word -> the values it takes, for the flags whose values are known.
std::vector<std::pair<std::string, std::vector<std::string>>> FlagValues(
    const std::vector<GroupSpec>& groups) {
  std::vector<std::string> formats(std::begin(kOutputFormatNames), std::end(kOutputFormatNames));
  std::vector<std::pair<std::string, std::vector<std::string>>> out = {{"--output", formats},
                                                                       {"-o", formats}};
  std::set<std::string> seen = {"--output", "-o"};
  for (const GroupSpec& g : groups) {
    for (const CommandSpec& c : g.commands) {
      for (const auto& [name, values] : c.flag_values) {
        if (seen.insert(Dashed(name)).second) out.emplace_back(Dashed(name), values);
      }
    }
  }
  return out;
}

bool HasVerbs(const GroupSpec& g) { return !g.IsLeaf(); }

std::string Key(const GroupSpec& g, const CommandSpec& c) {
  return ShellQuote(absl::StrCat(g.name, " ", c.verb));
}

std::string QuotedWords(const std::vector<std::string>& words) {
  return ShellQuote(absl::StrJoin(words, " "));
}

// zsh: (a b c) with each element quoted.
std::string ZshArray(const std::vector<std::string>& words) {
  std::vector<std::string> quoted;
  for (const std::string& w : words) quoted.push_back(ShellQuote(w));
  return absl::StrCat("(", absl::StrJoin(quoted, " "), ")");
}

// "name:summary" for zsh's _describe (a colon in the name is escaped).
std::string Described(const std::string& name, const std::string& summary) {
  return absl::StrCat(absl::StrReplaceAll(name, {{":", "\\:"}}), ":", summary);
}

// The value-taking flags as a case pattern: --admin|--token|-o.
std::string Pattern(const std::vector<std::string>& words) {
  std::vector<std::string> quoted;
  for (const std::string& w : words) quoted.push_back(ShellQuote(w));
  return absl::StrJoin(quoted, "|");
}

}  // namespace

std::string ShellQuote(const std::string& text) {
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "'\\''"}}), "'");
}

std::string BashCompletion(const std::vector<GroupSpec>& groups) {
  std::vector<std::string> names;
  for (const GroupSpec& g : groups) names.push_back(g.name);

  std::string verbs;
  std::string flags;
  std::string args;
  for (const GroupSpec& g : groups) {
    if (HasVerbs(g)) {
      std::vector<std::string> v;
      for (const CommandSpec& c : g.commands) v.push_back(c.verb);
      absl::StrAppend(&verbs, "    ", ShellQuote(g.name), ") echo ", QuotedWords(v), " ;;\n");
    }
    for (const CommandSpec& c : g.commands) {
      const auto offered = Offered(CommandWords(c));
      if (!offered.empty()) {
        absl::StrAppend(&flags, "    ", Key(g, c), ") echo ", QuotedWords(offered), " ;;\n");
      }
      if (!c.arg_values.empty()) {
        absl::StrAppend(&args, "    ", Key(g, c), ") echo ", QuotedWords(c.arg_values), " ;;\n");
      }
    }
  }
  std::string values;
  for (const auto& [flag, words] : FlagValues(groups)) {
    absl::StrAppend(&values, "    ", ShellQuote(flag), ") echo ", QuotedWords(words), " ;;\n");
  }
  const std::string files = Pattern({std::begin(kFileFlags), std::end(kFileFlags)});

  return absl::StrCat(
      "# bash completion for reitunnelctl, generated by 'reitunnelctl completion bash'.\n"
      "#   source <(reitunnelctl completion bash)                               # this shell\n"
      "#   reitunnelctl completion bash > /etc/bash_completion.d/reitunnelctl   # every shell\n"
      "\n"
      "_reitunnelctl_groups=",
      QuotedWords(names),
      "\n"
      "\n"
      "# The subcommands of a group (none for single-command groups).\n"
      "_reitunnelctl_verbs() {\n"
      "  case $1 in\n",
      verbs,
      "  esac\n"
      "}\n"
      "\n"
      "# The flags of \"GROUP VERB\", then the global ones.\n"
      "_reitunnelctl_flags() {\n"
      "  case \"$1 $2\" in\n",
      flags,
      "  esac\n"
      "  echo ",
      QuotedWords(Offered(GlobalWords())),
      "\n"
      "}\n"
      "\n"
      "# Flags whose value may follow as the next word (--admin 127.0.0.1:7001).\n"
      "_reitunnelctl_takes_value() {\n"
      "  case $1 in\n"
      "    ",
      Pattern(ValueFlags(groups)),
      ") return 0 ;;\n"
      "  esac\n"
      "  return 1\n"
      "}\n"
      "\n"
      "# The values of a flag, when known offline.\n"
      "_reitunnelctl_values() {\n"
      "  case $1 in\n",
      values,
      "  esac\n"
      "}\n"
      "\n"
      "# Positional words of \"GROUP VERB\" known offline.\n"
      "_reitunnelctl_args() {\n"
      "  case \"$1 $2\" in\n",
      args,
      "  esac\n"
      "}\n"
      "\n"
      "_reitunnelctl() {\n"
      "  # Words from the line itself: COMP_WORDS also splits at '=' and ':'.\n"
      "  local line=${COMP_LINE:0:COMP_POINT}\n"
      "  local -a words\n"
      "  read -ra words <<< \"$line\"\n"
      "  if [[ -z $line || $line == *[[:space:]] ]]; then words+=(''); fi\n"
      "  local n=${#words[@]}\n"
      "  local cur=${words[n-1]} prev=''\n"
      "  (( n > 1 )) && prev=${words[n-2]}\n"
      "  local group='' verb='' i w\n"
      "  for (( i = 1; i < n - 1; i++ )); do\n"
      "    w=${words[i]}\n"
      "    case $w in\n"
      "      -*=*) ;;\n"
      "      -*) if _reitunnelctl_takes_value \"$w\"; then (( i++ )); fi ;;\n"
      "      *)\n"
      "        if [[ -z $group ]]; then group=$w\n"
      "        elif [[ -z $verb && -n $(_reitunnelctl_verbs \"$group\") ]]; then verb=$w\n"
      "        fi ;;\n"
      "    esac\n"
      "  done\n"
      "  COMPREPLY=()\n"
      "  if [[ $cur == -*=* ]]; then\n"
      "    local flag=${cur%%=*} value=${cur#*=}\n"
      "    local before=\"$flag=\"\n"
      "    # --type=a,b: complete the item after the last comma.\n"
      "    if [[ $value == *,* ]]; then before+=\"${value%,*},\"; value=${value##*,}; fi\n"
      "    case $flag in\n"
      "      ",
      files,
      ") COMPREPLY=($(compgen -f -P \"$before\" -- \"$value\")) ;;\n"
      "      *) COMPREPLY=($(compgen -W \"$(_reitunnelctl_values \"$flag\")\" -P \"$before\" -- "
      "\"$value\")) ;;\n"
      "    esac\n"
      "  elif [[ $prev == -* && $prev != *=* ]] && _reitunnelctl_takes_value \"$prev\"; then\n"
      "    case $prev in\n"
      "      ",
      files,
      ") COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
      "      *) COMPREPLY=($(compgen -W \"$(_reitunnelctl_values \"$prev\")\" -- \"$cur\")) ;;\n"
      "    esac\n"
      "  elif [[ $cur == -* ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$(_reitunnelctl_flags \"$group\" \"$verb\")\" -- \"$cur\"))\n"
      "  elif [[ -z $group ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$_reitunnelctl_groups\" -- \"$cur\"))\n"
      "  elif [[ -z $verb && -n $(_reitunnelctl_verbs \"$group\") ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$(_reitunnelctl_verbs \"$group\")\" -- \"$cur\"))\n"
      "  else\n"
      "    COMPREPLY=($(compgen -W \"$(_reitunnelctl_args \"$group\" \"$verb\")\" -- \"$cur\"))\n"
      "  fi\n"
      "  # bash replaces only the part of the word after its last '=' or ':'\n"
      "  # (COMP_WORDBREAKS): drop what is typed before it from each candidate.\n"
      "  local c strip='' rest=$cur\n"
      "  for c in = :; do\n"
      "    [[ $COMP_WORDBREAKS == *\"$c\"* && $rest == *\"$c\"* ]] && rest=${rest##*\"$c\"}\n"
      "  done\n"
      "  strip=${cur%\"$rest\"}\n"
      "  if [[ -n $strip ]]; then COMPREPLY=(\"${COMPREPLY[@]#\"$strip\"}\"); fi\n"
      "  # \"--admin=\" waits for its value.\n"
      "  if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then\n"
      "    compopt -o nospace 2>/dev/null\n"
      "  fi\n"
      "  return 0\n"
      "}\n"
      "\n"
      "complete -F _reitunnelctl reitunnelctl\n");
}

std::string ZshCompletion(const std::vector<GroupSpec>& groups) {
  std::vector<std::string> described_groups;
  for (const GroupSpec& g : groups) described_groups.push_back(Described(g.name, g.summary));

  std::string verbs;
  std::string flags;
  std::string args;
  for (const GroupSpec& g : groups) {
    if (HasVerbs(g)) {
      std::vector<std::string> v;
      for (const CommandSpec& c : g.commands) v.push_back(Described(c.verb, c.summary));
      absl::StrAppend(&verbs, "    (", ShellQuote(g.name), ") reply=", ZshArray(v), " ;;\n");
    }
    for (const CommandSpec& c : g.commands) {
      const auto offered = Offered(CommandWords(c));
      if (!offered.empty()) {
        absl::StrAppend(&flags, "    (", Key(g, c), ") reply=", ZshArray(offered), " ;;\n");
      }
      if (!c.arg_values.empty()) {
        absl::StrAppend(&args, "    (", Key(g, c), ") reply=", ZshArray(c.arg_values), " ;;\n");
      }
    }
  }
  std::string values;
  for (const auto& [flag, words] : FlagValues(groups)) {
    absl::StrAppend(&values, "    (", ShellQuote(flag), ") reply=", ZshArray(words), " ;;\n");
  }
  const std::string files = Pattern({std::begin(kFileFlags), std::end(kFileFlags)});

  return absl::StrCat(
      "#compdef reitunnelctl\n"
      "# zsh completion for reitunnelctl, generated by 'reitunnelctl completion zsh'.\n"
      "#   source <(reitunnelctl completion zsh)                          # this shell, after "
      "compinit\n"
      "#   reitunnelctl completion zsh > \"${fpath[1]}/_reitunnelctl\"      # every shell\n"
      "\n"
      "_reitunnelctl_verbs() {\n"
      "  case $1 in\n",
      verbs,
      "    (*) reply=() ;;\n"
      "  esac\n"
      "}\n"
      "\n"
      "_reitunnelctl_flags() {\n"
      "  case \"$1 $2\" in\n",
      flags,
      "    (*) reply=() ;;\n"
      "  esac\n"
      "  reply+=",
      ZshArray(Offered(GlobalWords())),
      "\n"
      "}\n"
      "\n"
      "_reitunnelctl_takes_value() {\n"
      "  case $1 in\n"
      "    (",
      Pattern(ValueFlags(groups)),
      ") return 0 ;;\n"
      "  esac\n"
      "  return 1\n"
      "}\n"
      "\n"
      "_reitunnelctl_values() {\n"
      "  case $1 in\n",
      values,
      "    (*) reply=() ;;\n"
      "  esac\n"
      "}\n"
      "\n"
      "_reitunnelctl_args() {\n"
      "  case \"$1 $2\" in\n",
      args,
      "    (*) reply=() ;;\n"
      "  esac\n"
      "}\n"
      "\n"
      "_reitunnelctl() {\n"
      "  local group='' verb='' i w cur=${words[CURRENT]} prev=${words[CURRENT-1]}\n"
      "  local -a reply plain valued\n"
      "  for (( i = 2; i < CURRENT; i++ )); do\n"
      "    w=${words[i]}\n"
      "    case $w in\n"
      "      (-*=*) ;;\n"
      "      (-*) if _reitunnelctl_takes_value \"$w\"; then (( i++ )); fi ;;\n"
      "      (*)\n"
      "        if [[ -z $group ]]; then\n"
      "          group=$w\n"
      "        elif [[ -z $verb ]]; then\n"
      "          _reitunnelctl_verbs \"$group\"\n"
      "          (( ${#reply} )) && verb=$w\n"
      "        fi ;;\n"
      "    esac\n"
      "  done\n"
      "  if [[ $cur == -*=* ]]; then\n"
      "    local flag=${cur%%=*}\n"
      "    compset -P '*='\n"
      "    compset -P '*,'\n"
      "    case $flag in\n"
      "      (",
      files,
      ") _files ;;\n"
      "      (*) _reitunnelctl_values \"$flag\"; compadd -a reply ;;\n"
      "    esac\n"
      "    return\n"
      "  fi\n"
      "  if [[ $prev == -* && $prev != *=* ]] && _reitunnelctl_takes_value \"$prev\"; then\n"
      "    case $prev in\n"
      "      (",
      files,
      ") _files ;;\n"
      "      (*) _reitunnelctl_values \"$prev\"; compadd -a reply ;;\n"
      "    esac\n"
      "    return\n"
      "  fi\n"
      "  if [[ $cur == -* ]]; then\n"
      "    _reitunnelctl_flags \"$group\" \"$verb\"\n"
      "    valued=(${(M)reply:#*=})\n"
      "    plain=(${reply:#*=})\n"
      "    compadd -S '' -a valued\n"
      "    compadd -a plain\n"
      "    return\n"
      "  fi\n"
      "  if [[ -z $group ]]; then\n"
      "    reply=",
      ZshArray(described_groups),
      "\n"
      "    _describe -t commands 'reitunnelctl command' reply\n"
      "    return\n"
      "  fi\n"
      "  if [[ -z $verb ]]; then\n"
      "    _reitunnelctl_verbs \"$group\"\n"
      "    if (( ${#reply} )); then\n"
      "      _describe -t commands \"$group subcommand\" reply\n"
      "      return\n"
      "    fi\n"
      "  fi\n"
      "  _reitunnelctl_args \"$group\" \"$verb\"\n"
      "  (( ${#reply} )) && compadd -a reply\n"
      "  return 0\n"
      "}\n"
      "\n"
      "if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then\n"
      "  _reitunnelctl \"$@\"\n"
      "else\n"
      "  compdef _reitunnelctl reitunnelctl\n"
      "fi\n");
}

}  // namespace reitunnel::cli
