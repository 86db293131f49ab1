#include "common/config/flags.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace reitunnel::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

FlagSet Sample() {
  FlagSet fs;
  fs.String("listen", "HOST:PORT", "agent listener").Repeated("hook", "NAME=ADDR").Bool("tls");
  fs.String("o", "FORMAT");
  return fs;
}

std::string ErrorOf(FlagSet& fs, const std::vector<std::string>& args) {
  absl::Status st = fs.Parse(args);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  return std::string(st.message());
}

TEST(FlagSetTest, EqualsAndSpaceSeparatedValues) {
  FlagSet fs = Sample();
  ASSERT_TRUE(fs.Parse({"--listen", "1.2.3.4:5", "--hook=a=b:1", "--hook", "c=d:2"}).ok());
  EXPECT_TRUE(fs.IsSet("listen"));
  EXPECT_EQ(fs.GetString("listen"), "1.2.3.4:5");
  EXPECT_THAT(fs.GetRepeated("hook"), ElementsAre("a=b:1", "c=d:2"));
  EXPECT_FALSE(fs.IsSet("tls"));
  EXPECT_FALSE(fs.GetBool("tls"));
}

TEST(FlagSetTest, EmptyValueAfterEqualsIsSet) {
  FlagSet fs = Sample();
  ASSERT_TRUE(fs.Parse({"--listen="}).ok());
  EXPECT_TRUE(fs.IsSet("listen"));
  EXPECT_EQ(fs.GetString("listen"), "");
}

TEST(FlagSetTest, ValueMayStartWithSingleDash) {
  FlagSet fs = Sample();
  ASSERT_TRUE(fs.Parse({"--listen", "-weird"}).ok());
  EXPECT_EQ(fs.GetString("listen"), "-weird");
}

TEST(FlagSetTest, BoolForms) {
  FlagSet fs = Sample();
  ASSERT_TRUE(fs.Parse({"--tls"}).ok());
  EXPECT_TRUE(fs.GetBool("tls"));
  ASSERT_TRUE(fs.Parse({"--tls=false"}).ok());
  EXPECT_TRUE(fs.IsSet("tls"));
  EXPECT_FALSE(fs.GetBool("tls"));
  ASSERT_TRUE(fs.Parse({"--tls=true"}).ok());
  EXPECT_TRUE(fs.GetBool("tls"));
  ASSERT_TRUE(fs.Parse({"--tls=0"}).ok());
  EXPECT_FALSE(fs.GetBool("tls"));
  EXPECT_EQ(ErrorOf(fs, {"--tls=yes please"}), "--tls: expected true or false");
}

TEST(FlagSetTest, BoolDoesNotConsumeNextArgument) {
  FlagSet fs = Sample();
  EXPECT_EQ(ErrorOf(fs, {"--tls", "false"}),
            "unexpected argument #2 (flags look like --name=value)");
}

TEST(FlagSetTest, SingleDashWorksToo) {
  FlagSet fs = Sample();
  ASSERT_TRUE(fs.Parse({"-o", "json", "-tls"}).ok());
  EXPECT_EQ(fs.GetString("o"), "json");
  EXPECT_TRUE(fs.GetBool("tls"));
}

TEST(FlagSetTest, UnknownFlagNamesOnlyTheFlag) {
  FlagSet fs = Sample();
  EXPECT_EQ(ErrorOf(fs, {"--foo"}), "unknown flag --foo");
  EXPECT_EQ(ErrorOf(fs, {"--tokn=SECRETVALUE"}), "unknown flag --tokn");
  EXPECT_EQ(ErrorOf(fs, {"-x"}), "unknown flag -x");
  EXPECT_EQ(ErrorOf(fs, {"--=x"}), "unknown flag --");
}

TEST(FlagSetTest, MissingValue) {
  FlagSet fs = Sample();
  EXPECT_EQ(ErrorOf(fs, {"--listen"}), "--listen needs a value (--listen=HOST:PORT)");
  // The next flag is not swallowed as the value.
  EXPECT_EQ(ErrorOf(fs, {"--listen", "--tls"}), "--listen needs a value (--listen=HOST:PORT)");
}

TEST(FlagSetTest, NonRepeatedFlagGivenTwice) {
  FlagSet fs = Sample();
  EXPECT_EQ(ErrorOf(fs, {"--listen=a:1", "--listen=b:2"}), "--listen given more than once");
  EXPECT_EQ(ErrorOf(fs, {"--tls", "--tls"}), "--tls given more than once");
}

TEST(FlagSetTest, PositionalsRejectedByDefaultWithoutEchoingThem) {
  FlagSet fs = Sample();
  const std::string err = ErrorOf(fs, {"--listen=", "SECRETVALUE"});
  EXPECT_EQ(err, "unexpected argument #2 (flags look like --name=value)");
  EXPECT_THAT(err, Not(HasSubstr("SECRETVALUE")));
  EXPECT_THAT(ErrorOf(fs, {"--", "x"}), HasSubstr("unexpected argument #2"));
}

TEST(FlagSetTest, PositionalsWhenAllowed) {
  FlagSet fs = Sample();
  fs.AllowPositionals();
  ASSERT_TRUE(fs.Parse({"a", "--tls", "b", "--", "--listen=x", "-"}).ok());
  EXPECT_THAT(fs.positionals(), ElementsAre("a", "b", "--listen=x", "-"));
  EXPECT_TRUE(fs.GetBool("tls"));
  EXPECT_FALSE(fs.IsSet("listen"));
}

TEST(FlagSetTest, StopAtFirstPositionalLeavesSubcommandFlags) {
  FlagSet fs = Sample();
  fs.AllowPositionals().StopAtFirstPositional();
  ASSERT_TRUE(fs.Parse({"--listen=x:1", "tunnels", "list", "-o", "json", "--bogus"}).ok());
  EXPECT_EQ(fs.GetString("listen"), "x:1");
  EXPECT_THAT(fs.positionals(), ElementsAre("tunnels", "list", "-o", "json", "--bogus"));
  EXPECT_FALSE(fs.IsSet("o"));
}

TEST(FlagSetTest, ParseResetsEarlierResults) {
  FlagSet fs = Sample();
  ASSERT_TRUE(fs.Parse({"--listen=a:1", "--hook=x", "--tls"}).ok());
  ASSERT_TRUE(fs.Parse({}).ok());
  EXPECT_FALSE(fs.IsSet("listen"));
  EXPECT_EQ(fs.GetString("listen"), "");
  EXPECT_THAT(fs.GetRepeated("hook"), IsEmpty());
  EXPECT_FALSE(fs.GetBool("tls"));
}

TEST(FlagSetTest, UsageListsFlagsInOrder) {
  FlagSet fs = Sample();
  const std::string usage = fs.Usage();
  EXPECT_THAT(usage, HasSubstr("  --listen=HOST:PORT"));
  EXPECT_THAT(usage, HasSubstr("agent listener\n"));
  EXPECT_THAT(usage, HasSubstr("  --hook=NAME=ADDR"));
  EXPECT_THAT(usage, HasSubstr("(repeatable)"));
  EXPECT_THAT(usage, HasSubstr("  --tls\n"));
  EXPECT_LT(usage.find("--listen"), usage.find("--hook"));
  EXPECT_LT(usage.find("--hook"), usage.find("--tls"));
}

}  // namespace
}  // namespace reitunnel::config
