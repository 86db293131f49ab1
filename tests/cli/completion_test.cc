// The scripts' behaviour in real shells is tested by completion_test.sh;
// these check what they are generated from.

#include "cli/completion.h"

#include <string>

#include "cli/commands/commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace reitunnel::cli {
namespace {

using ::testing::HasSubstr;

TEST(ShellQuoteTest, SingleQuotesSurviveTheShell) {
  EXPECT_EQ(ShellQuote("plain"), "'plain'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote(""), "''");
}

TEST(CompletionTest, EveryCommandAndItsFlagsAreInBothScripts) {
  const std::string bash = BashCompletion(AllGroups());
  const std::string zsh = ZshCompletion(AllGroups());
  for (const GroupSpec& g : AllGroups()) {
    EXPECT_THAT(bash, HasSubstr(g.name));
    EXPECT_THAT(zsh, HasSubstr(absl::StrCat("'", g.name, ":")));  // _describe entry
    for (const CommandSpec& c : g.commands) {
      if (!c.add_flags) continue;
      config::FlagSet fs;
      c.add_flags(fs);
      for (const auto& [name, takes_value] : fs.Names()) {
        const std::string word = absl::StrCat("--", name, takes_value ? "=" : "");
        EXPECT_THAT(bash, HasSubstr(word)) << g.name << " " << c.verb;
        EXPECT_THAT(zsh, HasSubstr(word)) << g.name << " " << c.verb;
      }
    }
  }
  EXPECT_THAT(bash, HasSubstr("complete -F _reitunnelctl reitunnelctl"));
  EXPECT_THAT(zsh, HasSubstr("#compdef reitunnelctl"));
  EXPECT_THAT(bash, HasSubstr("'table wide json yaml'"));
}

}  // namespace
}  // namespace reitunnel::cli
