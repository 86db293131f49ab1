#pragma once

// A small command-line flag parser. Not absl flags: the programs need their
// own messages and exit code 2, several flag sets per process (reitunnelctl
// subcommands), and no global registry.
//
//   FlagSet fs;
//   fs.String("listen", "HOST:PORT", "agent listener").Repeated("hook").Bool("tls");
//   if (absl::Status st = fs.Parse(args); !st.ok()) { ...; return 2; }
//   if (fs.IsSet("listen")) Use(fs.GetString("listen"));
//
// Syntax: --name=value and --name value (a single dash works too: -o json);
// booleans as --name or --name=true|false; repeated flags keep every value in
// order; "--" ends the flags. Error messages never echo flag values, which
// may be secrets.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace reitunnel::config {

class FlagSet {
 public:
  // Registration. `value_name` and `help` only feed Usage(). Returns *this
  // for chaining. Names are given without dashes.
  FlagSet& String(std::string_view name, std::string_view value_name = "VALUE",
                  std::string_view help = "");
  FlagSet& Bool(std::string_view name, std::string_view help = "");
  FlagSet& Repeated(std::string_view name, std::string_view value_name = "VALUE",
                    std::string_view help = "");

  // Positional arguments are an error unless allowed.
  FlagSet& AllowPositionals(bool allow = true);
  // When set, the first positional and everything after it are returned as
  // positionals unparsed, so a subcommand can parse its own flags.
  FlagSet& StopAtFirstPositional(bool stop = true);

  // Parses `args` (argv without the program name). Replaces the results of
  // any earlier Parse. A non-repeated flag given twice is an error.
  absl::Status Parse(const std::vector<std::string>& args);

  // Whether the flag appeared on the command line.
  bool IsSet(std::string_view name) const;
  // The value of a String flag, empty when not set.
  const std::string& GetString(std::string_view name) const;
  // The value of a Bool flag, false when not set.
  bool GetBool(std::string_view name) const;
  // All values of a Repeated flag in command-line order.
  const std::vector<std::string>& GetRepeated(std::string_view name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

  // The registered flags in registration order: each name (without dashes)
  // and whether it takes a value (String and Repeated flags). For shell
  // completion.
  std::vector<std::pair<std::string, bool>> Names() const;

  // One line per flag in registration order, e.g.
  //   "  --listen=HOST:PORT        agent listener\n"
  std::string Usage() const;

 private:
  enum class Kind { kString, kBool, kRepeated };
  struct Flag {
    std::string name;
    Kind kind;
    std::string value_name;
    std::string help;
    bool set = false;
    std::string value;
    bool bool_value = false;
    std::vector<std::string> values;
  };

  FlagSet& Add(std::string_view name, Kind kind, std::string_view value_name,
               std::string_view help);
  Flag* Find(std::string_view name);
  const Flag* Find(std::string_view name) const;

  std::vector<Flag> flags_;  // registration order, for Usage()
  std::vector<std::string> positionals_;
  bool allow_positionals_ = false;
  bool stop_at_positional_ = false;
};

}  // namespace reitunnel::config
