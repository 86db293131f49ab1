#include "common/log/log.h"

#include "gtest/gtest.h"

namespace reitunnel::log {
namespace {

TEST(LogTest, JsonLineEscapesAndTypesFields) {
  std::string line = FormatLine(Format::kJson, Level::kWarn, "tunnel_open", "tunnel \"x\" open",
                                {{"name", "a\nb"}, {"port", 20080}});
  EXPECT_NE(line.find("\"level\":\"warn\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"event\":\"tunnel_open\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"msg\":\"tunnel \\\"x\\\" open\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"name\":\"a\\nb\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"port\":20080}"), std::string::npos) << line;
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(LogTest, TextValueCannotForgeFieldsOrLines) {
  std::string line =
      FormatLine(Format::kText, Level::kInfo, "e", "hello", {{"who", "x admin=true\nINFO fake"}});
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  EXPECT_NE(line.find("who=\"x admin=true\\nINFO fake\""), std::string::npos) << line;
  EXPECT_NE(line.find(" INFO hello"), std::string::npos) << line;
}

TEST(LogTest, ParsesLevelsAndFormats) {
  Level level;
  Format format;
  EXPECT_TRUE(ParseLevel("debug", &level));
  EXPECT_EQ(level, Level::kDebug);
  EXPECT_FALSE(ParseLevel("loud", &level));
  EXPECT_TRUE(ParseFormat("json", &format));
  EXPECT_EQ(format, Format::kJson);
  EXPECT_FALSE(ParseFormat("xml", &format));
}

TEST(LogTest, LevelFilter) {
  Configure(Level::kWarn, Format::kText);
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
  Configure(Level::kInfo, Format::kText);
}

}  // namespace
}  // namespace reitunnel::log
