#include "common/config/flags.h"

#include <cassert>
#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace reitunnel::config {
namespace {

// Help text starts in this column when the flag column is narrower.
constexpr std::size_t kHelpColumn = 30;

}  // namespace

FlagSet& FlagSet::String(std::string_view name, std::string_view value_name,
                         std::string_view help) {
  return Add(name, Kind::kString, value_name, help);
}

FlagSet& FlagSet::Bool(std::string_view name, std::string_view help) {
  return Add(name, Kind::kBool, "", help);
}

FlagSet& FlagSet::Repeated(std::string_view name, std::string_view value_name,
                           std::string_view help) {
  return Add(name, Kind::kRepeated, value_name, help);
}

FlagSet& FlagSet::AllowPositionals(bool allow) {
  allow_positionals_ = allow;
  return *this;
}

FlagSet& FlagSet::StopAtFirstPositional(bool stop) {
  stop_at_positional_ = stop;
  return *this;
}

FlagSet& FlagSet::Add(std::string_view name, Kind kind, std::string_view value_name,
                      std::string_view help) {
  assert(Find(name) == nullptr && "flag registered twice");
  Flag flag;
  flag.name = std::string(name);
  flag.kind = kind;
  flag.value_name = std::string(value_name);
  flag.help = std::string(help);
  flags_.push_back(std::move(flag));
  return *this;
}

FlagSet::Flag* FlagSet::Find(std::string_view name) {
  for (Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const FlagSet::Flag* FlagSet::Find(std::string_view name) const {
  for (const Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

absl::Status FlagSet::Parse(const std::vector<std::string>& args) {
  for (Flag& f : flags_) {
    f.set = false;
    f.value.clear();
    f.bool_value = false;
    f.values.clear();
  }
  positionals_.clear();

  // Positionals are reported by position, never by text: a stray argument
  // is often a secret that lost its flag ("--token= SECRET").
  auto positional = [this](std::size_t i, const std::string& arg) -> absl::Status {
    if (!allow_positionals_) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument #", i + 1, " (flags look like --name=value)"));
    }
    positionals_.push_back(arg);
    return absl::OkStatus();
  };

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      for (std::size_t j = i + 1; j < args.size(); ++j) {
        if (absl::Status st = positional(j, args[j]); !st.ok()) return st;
      }
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      if (absl::Status st = positional(i, arg); !st.ok()) return st;
      if (stop_at_positional_) {
        positionals_.insert(positionals_.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                            args.end());
        break;
      }
      continue;
    }
    const std::size_t dashes = arg[1] == '-' ? 2 : 1;
    const std::size_t eq = arg.find('=');
    const std::string name = arg.substr(dashes, eq == std::string::npos ? eq : eq - dashes);
    const std::string shown = arg.substr(0, eq);  // the flag as typed, without its value
    Flag* flag = name.empty() ? nullptr : Find(name);
    if (flag == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag ", shown));
    if (flag->set && flag->kind != Kind::kRepeated) {
      return absl::InvalidArgumentError(absl::StrCat(shown, " given more than once"));
    }
    flag->set = true;
    if (flag->kind == Kind::kBool) {
      if (eq == std::string::npos) {
        flag->bool_value = true;
        continue;
      }
      const std::string value = arg.substr(eq + 1);
      if (value == "true" || value == "1") {
        flag->bool_value = true;
      } else if (value == "false" || value == "0") {
        flag->bool_value = false;
      } else {
        return absl::InvalidArgumentError(absl::StrCat(shown, ": expected true or false"));
      }
      continue;
    }
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else {
      // A following "--flag" means the value was forgotten; swallowing it
      // would silently drop that flag.
      if (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(shown, " needs a value (", shown, "=", flag->value_name, ")"));
      }
      value = args[++i];
    }
    if (flag->kind == Kind::kRepeated) {
      flag->values.push_back(std::move(value));
    } else {
      flag->value = std::move(value);
    }
  }
  return absl::OkStatus();
}

bool FlagSet::IsSet(std::string_view name) const {
  const Flag* f = Find(name);
  assert(f != nullptr && "flag not registered");
  return f != nullptr && f->set;
}

const std::string& FlagSet::GetString(std::string_view name) const {
  static const std::string kEmpty;
  const Flag* f = Find(name);
  assert(f != nullptr && f->kind == Kind::kString && "not a registered String flag");
  return f != nullptr ? f->value : kEmpty;
}

bool FlagSet::GetBool(std::string_view name) const {
  const Flag* f = Find(name);
  assert(f != nullptr && f->kind == Kind::kBool && "not a registered Bool flag");
  return f != nullptr && f->bool_value;
}

const std::vector<std::string>& FlagSet::GetRepeated(std::string_view name) const {
  static const std::vector<std::string> kEmpty;
  const Flag* f = Find(name);
  assert(f != nullptr && f->kind == Kind::kRepeated && "not a registered Repeated flag");
  return f != nullptr ? f->values : kEmpty;
}

std::vector<std::pair<std::string, bool>> FlagSet::Names() const {
  std::vector<std::pair<std::string, bool>> out;
  for (const Flag& f : flags_) out.emplace_back(f.name, f.kind != Kind::kBool);
  return out;
}

std::string FlagSet::Usage() const {
  std::string out;
  for (const Flag& f : flags_) {
    std::string left = absl::StrCat("  --", f.name);
    if (f.kind != Kind::kBool) absl::StrAppend(&left, "=", f.value_name);
    std::string help = f.help;
    if (f.kind == Kind::kRepeated) {
      // Keep lines within 80 columns.
      const std::size_t last_line = help.size() - (help.rfind('\n') + 1);
      const char* sep = help.empty() ? "" : (kHelpColumn + last_line + 13 > 80 ? "\n" : " ");
      absl::StrAppend(&help, sep, "(repeatable)");
    }
    if (help.empty()) {
      absl::StrAppend(&out, left, "\n");
      continue;
    }
    if (left.size() + 2 > kHelpColumn) {
      absl::StrAppend(&out, left, "\n", std::string(kHelpColumn, ' '));
    } else {
      absl::StrAppend(&out, left, std::string(kHelpColumn - left.size(), ' '));
    }
    bool first = true;
    for (absl::string_view line : absl::StrSplit(help, '\n')) {
      if (!first) out.append(kHelpColumn, ' ');
      absl::StrAppend(&out, line, "\n");
      first = false;
    }
  }
  return out;
}

}  // namespace reitunnel::config
