#include "cli/args.h"

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands/commands.h"
#include "cli/run.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace reitunnel::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct Env {
  std::map<std::string, std::string> vars;
  EnvLookup Lookup() const {
    return [this](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

struct Parsed {
  Outcome outcome;
  CommandLine cl;
};

Parsed ParseWith(const std::vector<std::string>& argv, const Env& env = {}) {
  Parsed p;
  p.outcome = ParseCommandLine(argv, AllGroups(), env.Lookup(), &p.cl);
  return p;
}

std::string Path(const CommandLine& cl) {
  std::string out = cl.group ? cl.group->name : "";
  if (cl.command && !cl.command->verb.empty()) out += " " + cl.command->verb;
  return out;
}

TEST(ArgsTest, ProductContractCommandLine) {
  Parsed p =
      ParseWith({"--admin=127.0.0.1:7001", "--token=SECRET", "tunnels", "list", "-o", "json"});
  ASSERT_TRUE(p.outcome.ok()) << p.outcome.message;
  EXPECT_EQ(p.cl.action, Action::kRun);
  EXPECT_EQ(Path(p.cl), "tunnels list");
  EXPECT_EQ(p.cl.globals.admin, "127.0.0.1:7001");
  EXPECT_EQ(p.cl.globals.token, "SECRET");
  EXPECT_EQ(p.cl.globals.output, OutputFormat::kJson);
  EXPECT_FALSE(p.cl.globals.tls);
  EXPECT_EQ(p.cl.globals.timeout, absl::Seconds(5));
}

TEST(ArgsTest, GlobalFlagsAfterTheSubcommand) {
  Parsed p = ParseWith({"tunnels", "list", "-o", "json", "--admin=10.0.0.1:9", "--token", "T"});
  ASSERT_TRUE(p.outcome.ok()) << p.outcome.message;
  EXPECT_EQ(Path(p.cl), "tunnels list");
  EXPECT_EQ(p.cl.globals.admin, "10.0.0.1:9");
  EXPECT_EQ(p.cl.globals.token, "T");
  EXPECT_EQ(p.cl.globals.output, OutputFormat::kJson);
}

TEST(ArgsTest, GlobalFlagsBetweenTheCommandWords) {
  Parsed p = ParseWith({"tunnels", "--output=json", "show", "abc", "--timeout=2s"});
  ASSERT_TRUE(p.outcome.ok()) << p.outcome.message;
  EXPECT_EQ(Path(p.cl), "tunnels show");
  EXPECT_EQ(p.cl.globals.output, OutputFormat::kJson);
  EXPECT_EQ(p.cl.globals.timeout, absl::Seconds(2));
  EXPECT_EQ(p.cl.args, std::vector<std::string>{"abc"});
}

TEST(ArgsTest, OutputSpellings) {
  for (const auto& argv : std::vector<std::vector<std::string>>{{"status", "-o", "json"},
                                                                {"status", "-o=json"},
                                                                {"status", "--output=json"},
                                                                {"status", "--output", "json"},
                                                                {"-o", "json", "status"}}) {
    Parsed p = ParseWith(argv);
    ASSERT_TRUE(p.outcome.ok()) << p.outcome.message;
    EXPECT_EQ(p.cl.globals.output, OutputFormat::kJson);
  }
  Parsed table = ParseWith({"status", "-o", "table"});
  ASSERT_TRUE(table.outcome.ok());
  EXPECT_EQ(table.cl.globals.output, OutputFormat::kTable);
  for (std::size_t i = 0; i < std::size(kOutputFormatNames); ++i) {
    Parsed named = ParseWith({"status", "-o", kOutputFormatNames[i]});
    ASSERT_TRUE(named.outcome.ok()) << kOutputFormatNames[i];
    EXPECT_EQ(static_cast<std::size_t>(named.cl.globals.output), i) << kOutputFormatNames[i];
  }
  Parsed upper = ParseWith({"status", "--output=YAML"});
  ASSERT_TRUE(upper.outcome.ok());
  EXPECT_EQ(upper.cl.globals.output, OutputFormat::kYaml);
  Parsed bad = ParseWith({"status", "-o", "xml"});
  EXPECT_EQ(bad.outcome.exit_code, kExitUsage);
  EXPECT_THAT(bad.outcome.message, HasSubstr("table, wide, json or yaml"));
}

TEST(ArgsTest, SameGlobalTwiceIsAUsageError) {
  Parsed p = ParseWith({"-o", "json", "status", "--output=table"});
  EXPECT_EQ(p.outcome.exit_code, kExitUsage);
  EXPECT_THAT(p.outcome.message, HasSubstr("more than once"));
  p = ParseWith({"--admin=a:1", "tunnels", "list", "--admin=b:2"});
  EXPECT_EQ(p.outcome.exit_code, kExitUsage);
}

TEST(ArgsTest, CommandFlagsAndPositionalsInAnyOrder) {
  Parsed p = ParseWith({"clients", "kick", "--reason=maintenance", "c1"});
  ASSERT_TRUE(p.outcome.ok()) << p.outcome.message;
  EXPECT_EQ(p.cl.args, std::vector<std::string>{"c1"});
  EXPECT_EQ(p.cl.flags.GetString("reason"), "maintenance");
  p = ParseWith({"tunnels", "list", "--label=team=blue", "--client", "c1", "--label", "env=prod",
                 "--limit=5"});
  ASSERT_TRUE(p.outcome.ok()) << p.outcome.message;
  EXPECT_EQ(p.cl.flags.GetRepeated("label"), (std::vector<std::string>{"team=blue", "env=prod"}));
  EXPECT_EQ(p.cl.flags.GetString("client"), "c1");
  p = ParseWith({"events", "watch", "--client", "c1", "--tunnel=t1"});
  ASSERT_TRUE(p.outcome.ok()) << p.outcome.message;
  EXPECT_EQ(p.cl.flags.GetString("tunnel"), "t1");
}

TEST(ArgsTest, MissingCommandOrSubcommandIsUsage) {
  Parsed p = ParseWith({});
  EXPECT_EQ(p.outcome.exit_code, kExitUsage);
  EXPECT_THAT(p.outcome.message, HasSubstr("missing command"));
  p = ParseWith({"tunnels"});
  EXPECT_EQ(p.outcome.exit_code, kExitUsage);
  EXPECT_THAT(p.outcome.message, HasSubstr("missing subcommand (list, show, close)"));
  EXPECT_THAT(p.outcome.message, HasSubstr("reitunnelctl tunnels --help"));
  p = ParseWith({"--admin=x:1", "clients"});
  EXPECT_EQ(p.outcome.exit_code, kExitUsage);
}

TEST(ArgsTest, UnknownWordsAndFlagsAreUsage) {
  EXPECT_EQ(ParseWith({"tunnel", "list"}).outcome.exit_code, kExitUsage);
  EXPECT_EQ(ParseWith({"tunnels", "rm", "x"}).outcome.exit_code, kExitUsage);
  Parsed p = ParseWith({"tunnels", "list", "--bogus"});
  EXPECT_EQ(p.outcome.exit_code, kExitUsage);
  EXPECT_THAT(p.outcome.message, HasSubstr("unknown flag --bogus"));
  EXPECT_THAT(p.outcome.message, HasSubstr("'reitunnelctl tunnels list --help'"));
  // A flag of another command.
  EXPECT_EQ(ParseWith({"clients", "list", "--client=x"}).outcome.exit_code, kExitUsage);
  EXPECT_EQ(ParseWith({"status", "extra"}).outcome.exit_code, kExitUsage);
}

TEST(ArgsTest, MissingOrExtraIdIsUsage) {
  Parsed p = ParseWith({"tunnels", "show"});
  EXPECT_EQ(p.outcome.exit_code, kExitUsage);
  EXPECT_THAT(p.outcome.message, HasSubstr("missing the tunnel ID"));
  EXPECT_EQ(ParseWith({"clients", "kick", "a", "b"}).outcome.exit_code, kExitUsage);
}

TEST(ArgsTest, HelpAtEveryLevel) {
  Parsed p = ParseWith({"--help"});
  ASSERT_TRUE(p.outcome.ok());
  EXPECT_EQ(p.cl.action, Action::kHelp);
  EXPECT_THAT(p.cl.help_text, HasSubstr("tunnels list"));
  p = ParseWith({"tunnels", "-h"});
  ASSERT_TRUE(p.outcome.ok());
  EXPECT_EQ(p.cl.action, Action::kHelp);
  EXPECT_THAT(p.cl.help_text, HasSubstr("Subcommands:"));
  // Help wins over a missing ID, and works before the words too.
  for (const auto& argv : std::vector<std::vector<std::string>>{{"tunnels", "close", "--help"},
                                                                {"--help", "tunnels", "close"},
                                                                {"tunnels", "--help", "close"}}) {
    p = ParseWith(argv);
    ASSERT_TRUE(p.outcome.ok()) << p.outcome.message;
    EXPECT_EQ(p.cl.action, Action::kHelp);
    EXPECT_THAT(p.cl.help_text, HasSubstr("Usage: reitunnelctl tunnels close ID"));
    EXPECT_THAT(p.cl.help_text, HasSubstr("--reason=TEXT"));
    EXPECT_THAT(p.cl.help_text, HasSubstr("Examples:"));
  }
}

TEST(ArgsTest, EveryCommandHasHelpWithExamples) {
  for (const GroupSpec& g : AllGroups()) {
    for (const CommandSpec& c : g.commands) {
      std::vector<std::string> argv = {g.name};
      if (!c.verb.empty()) argv.push_back(c.verb);
      argv.push_back("--help");
      Parsed p = ParseWith(argv);
      ASSERT_TRUE(p.outcome.ok()) << g.name << " " << c.verb << ": " << p.outcome.message;
      EXPECT_EQ(p.cl.action, Action::kHelp);
      EXPECT_THAT(p.cl.help_text, HasSubstr("Examples:")) << g.name << " " << c.verb;
      EXPECT_THAT(p.cl.help_text, HasSubstr("--admin=HOST:PORT"));
    }
  }
}

TEST(ArgsTest, EnvironmentFallbackAndFlagWins) {
  Env env{{{"REITUNNEL_ADMIN", "10.1.1.1:7001"}, {"REITUNNEL_ADMIN_TOKEN", "from-env"}}};
  Parsed p = ParseWith({"status"}, env);
  ASSERT_TRUE(p.outcome.ok()) << p.outcome.message;
  EXPECT_EQ(p.cl.globals.admin, "10.1.1.1:7001");
  EXPECT_EQ(p.cl.globals.token, "from-env");
  p = ParseWith({"status", "--admin=127.0.0.1:1", "--token=from-flag"}, env);
  ASSERT_TRUE(p.outcome.ok()) << p.outcome.message;
  EXPECT_EQ(p.cl.globals.admin, "127.0.0.1:1");
  EXPECT_EQ(p.cl.globals.token, "from-flag");
  p = ParseWith({"status"});
  ASSERT_TRUE(p.outcome.ok());
  EXPECT_EQ(p.cl.globals.admin, "127.0.0.1:7001");
  EXPECT_EQ(p.cl.globals.token, "");
}

TEST(ArgsTest, EmptyTokenFlagNeverTurnsTheSecretIntoAWord) {
  // "--token= SECRET": the shell split the secret off its flag.
  for (const auto& argv :
       std::vector<std::vector<std::string>>{{"--token=", "hunter2", "tunnels", "list"},
                                             {"tunnels", "show", "--token=", "hunter2"}}) {
    Parsed p = ParseWith(argv);
    EXPECT_EQ(p.outcome.exit_code, kExitUsage);
    EXPECT_THAT(p.outcome.message, HasSubstr("--token needs a value"));
    EXPECT_THAT(p.outcome.message, Not(HasSubstr("hunter2")));
  }
}

TEST(ArgsTest, TlsFlags) {
  Parsed p = ParseWith({"status", "--tls"});
  ASSERT_TRUE(p.outcome.ok());
  EXPECT_TRUE(p.cl.globals.tls);
  p = ParseWith({"status", "--tls-ca=/ca.pem", "--tls-server-name=admin.internal"});
  ASSERT_TRUE(p.outcome.ok());
  EXPECT_TRUE(p.cl.globals.tls);  // implied
  EXPECT_EQ(p.cl.globals.tls_ca, "/ca.pem");
  EXPECT_EQ(p.cl.globals.tls_server_name, "admin.internal");
  p = ParseWith({"status", "--tls-cert=/c.pem"});
  EXPECT_EQ(p.outcome.exit_code, kExitUsage);
  p = ParseWith({"status", "--tls=false", "--tls-ca=/ca.pem"});
  EXPECT_EQ(p.outcome.exit_code, kExitUsage);
}

TEST(ArgsTest, Timeout) {
  absl::Duration d;
  EXPECT_TRUE(ParseTimeout("5s", &d));
  EXPECT_EQ(d, absl::Seconds(5));
  EXPECT_TRUE(ParseTimeout("500ms", &d));
  EXPECT_EQ(d, absl::Milliseconds(500));
  EXPECT_TRUE(ParseTimeout("1m30s", &d));
  EXPECT_EQ(d, absl::Seconds(90));
  EXPECT_TRUE(ParseTimeout("10", &d));
  EXPECT_EQ(d, absl::Seconds(10));
  EXPECT_FALSE(ParseTimeout("", &d));
  EXPECT_FALSE(ParseTimeout("0s", &d));
  EXPECT_FALSE(ParseTimeout("-1s", &d));
  EXPECT_FALSE(ParseTimeout("soon", &d));
  EXPECT_FALSE(ParseTimeout("inf", &d));
  EXPECT_EQ(ParseWith({"status", "--timeout=soon"}).outcome.exit_code, kExitUsage);
}

// Through Run(): exit codes and the one-line error on stderr.
struct RunResult {
  int code;
  std::string out;
  std::string err;
};

RunResult RunCli(const std::vector<std::string>& argv, const Env& env = {}) {
  std::ostringstream out, err;
  RunResult r;
  r.code = Run(argv, out, err, env.Lookup());
  r.out = out.str();
  r.err = err.str();
  return r;
}

TEST(RunTest, HelpExitsZeroOnStdout) {
  RunResult r = RunCli({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, StartsWith("reitunnelctl manages"));
  EXPECT_EQ(r.err, "");
}

TEST(RunTest, HelpNeverShowsTheToken) {
  Env env{{{"REITUNNEL_ADMIN_TOKEN", "env-secret-123"}}};
  RunResult r = RunCli({"--token=flag-secret-456", "tunnels", "list", "--help"}, env);
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, Not(HasSubstr("secret")));
}

TEST(RunTest, UsageErrorsAreOneLineWithExitTwo) {
  for (const auto& argv :
       std::vector<std::vector<std::string>>{{},
                                             {"tunnels"},
                                             {"nope"},
                                             {"tunnels", "list", "--bogus"},
                                             {"tunnels", "show"},
                                             {"tunnels", "list", "--limit=0"},
                                             {"clients", "list", "--label=oops"}}) {
    RunResult r = RunCli(argv);
    EXPECT_EQ(r.code, kExitUsage) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_THAT(r.err, StartsWith("reitunnelctl: "));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("--help'"));
  }
}

TEST(RunTest, Version) {
  RunResult r = RunCli({"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, StartsWith("reitunnelctl "));
}

TEST(RedactTest, ReplacesEveryOccurrence) {
  EXPECT_EQ(Redact("a tok b tok", "tok"), "a <redacted> b <redacted>");
  EXPECT_EQ(Redact("nothing", ""), "nothing");
}

}  // namespace
}  // namespace reitunnel::cli
