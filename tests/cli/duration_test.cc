#include "cli/duration.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace reitunnel::cli {
namespace {

using ::testing::HasSubstr;

absl::Duration Parsed(const std::string& text) {
  absl::Duration d = absl::InfiniteDuration();
  EXPECT_TRUE(ParseOperatorDuration(text, &d)) << text;
  return d;
}

TEST(ParseOperatorDurationTest, UnitsDaysAndBareSeconds) {
  EXPECT_EQ(Parsed("90s"), absl::Seconds(90));
  EXPECT_EQ(Parsed("30m"), absl::Minutes(30));
  EXPECT_EQ(Parsed("1h"), absl::Hours(1));
  EXPECT_EQ(Parsed("1h30m"), absl::Minutes(90));
  EXPECT_EQ(Parsed("7d"), absl::Hours(7 * 24));
  EXPECT_EQ(Parsed("1d12h"), absl::Hours(36));
  EXPECT_EQ(Parsed("2d30m15s"), absl::Hours(48) + absl::Minutes(30) + absl::Seconds(15));
  EXPECT_EQ(Parsed("3600"), absl::Hours(1));
  EXPECT_EQ(Parsed("1500ms"), absl::Milliseconds(1500));
  EXPECT_EQ(Parsed("0"), absl::ZeroDuration());
}

TEST(ParseOperatorDurationTest, RejectsGarbage) {
  absl::Duration d;
  for (const char* bad : {"", "h", "1x", "-5m", "1d-2h", "1.5d", "d", "1dd", "1h d", "inf",
                          "99999999999999999999", "1e3", " 5m", "5m "}) {
    EXPECT_FALSE(ParseOperatorDuration(bad, &d)) << bad;
  }
}

TEST(ParseBanSecondsTest, WholeSecondsWithinBounds) {
  uint32_t s = 0;
  std::string error;
  ASSERT_TRUE(ParseBanSeconds("--ban", "1h", &s, &error)) << error;
  EXPECT_EQ(s, 3600u);
  ASSERT_TRUE(ParseBanSeconds("--ban", "1500ms", &s, &error));
  EXPECT_EQ(s, 2u);  // rounded up: never shorter than asked
  ASSERT_TRUE(ParseBanSeconds("--ban", "366d", &s, &error));
  EXPECT_EQ(s, kMaxBanSeconds);
  for (const char* bad : {"0", "0s", "500ms", "367d", "-1h", "soon"}) {
    error.clear();
    EXPECT_FALSE(ParseBanSeconds("--ban", bad, &s, &error)) << bad;
    EXPECT_THAT(error, HasSubstr("--ban wants a duration")) << bad;
  }
}

}  // namespace
}  // namespace reitunnel::cli
