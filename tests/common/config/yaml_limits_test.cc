// What YamlToProto refuses that yaml-cpp alone would accept or report badly:
// unterminated quoted scalars at the end of the text, deep nesting, and alias
// expansion.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/config/yaml_proto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reitunnel/config/v1/agent.pb.h"
#include "reitunnel/config/v1/server.pb.h"
#include "tests/common/config/test_util.h"

namespace reitunnel::config {
namespace {

using reitunnel::config::v1::AgentConfig;
using reitunnel::config::v1::ServerConfig;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string ServerError(const std::string& yaml) {
  ServerConfig msg;
  absl::Status st = YamlToProto(yaml, &msg);
  EXPECT_FALSE(st.ok()) << "accepted: " << yaml.substr(0, 200);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  return std::string(st.message());
}

std::string Repeat(const std::string& s, int n) {
  std::string out;
  out.reserve(s.size() * static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

constexpr char kUnterminated[] = "invalid YAML: unterminated quoted string (no closing quote)";

// yaml-cpp 0.7 closes a quoted scalar at the end of the input without
// complaint when a line break comes before the end.
TEST(YamlUnterminatedQuoteTest, RejectedWithWhereTheQuoteOpened) {
  EXPECT_EQ(ServerError("token: \"abc\n"), std::string("line 1, column 8: ") + kUnterminated);
  EXPECT_EQ(ServerError("token: 'abc\n"), std::string("line 1, column 8: ") + kUnterminated);
  EXPECT_EQ(ServerError("listen: a:1\ntoken:   \"abc\n\n\n"),
            std::string("line 2, column 10: ") + kUnterminated);
  EXPECT_EQ(ServerError("token: \"abc\r\n"), std::string("line 1, column 8: ") + kUnterminated);
  EXPECT_EQ(ServerError("token: \"abc\n   \n\t\n"),
            std::string("line 1, column 8: ") + kUnterminated);
}

TEST(YamlUnterminatedQuoteTest, SwallowingTheRestOfTheFileIsRejected) {
  // Without the check the token would be `abc listen: 127.0.0.1:1`.
  EXPECT_EQ(ServerError("token: \"abc\nlisten: 127.0.0.1:1\n"),
            std::string("line 1, column 8: ") + kUnterminated);
  EXPECT_EQ(ServerError("hooks:\n  - name: \"x\n    address: h:1\n"),
            std::string("line 2, column 11: ") + kUnterminated);
  EXPECT_EQ(ServerError("hooks:\n  - \"x\n"), std::string("line 2, column 5: ") + kUnterminated);
}

TEST(YamlUnterminatedQuoteTest, WithoutFinalLineBreakToo) {
  EXPECT_EQ(ServerError("token: \"abc"), std::string("line 1, column 8: ") + kUnterminated);
  EXPECT_EQ(ServerError("token: 'abc  "), std::string("line 1, column 8: ") + kUnterminated);
}

TEST(YamlUnterminatedQuoteTest, NeverEchoesTheValue) {
  EXPECT_THAT(ServerError("token: \"s3cr3t-value\n"), Not(HasSubstr("s3cr3t")));
}

TEST(YamlUnterminatedQuoteTest, FileErrorsCarryPathLineColumn) {
  testing::TempDir dir;
  const std::string path = dir.Write("server.yaml", "listen: 127.0.0.1:7000\ntoken: \"abc\n");
  ServerConfig msg;
  EXPECT_EQ(LoadYamlFile(path, &msg).message(), path + ":2:8: " + kUnterminated);
}

TEST(YamlUnterminatedQuoteTest, ClosedQuotesAndBlockScalarsStillLoad) {
  ServerConfig msg;
  ASSERT_TRUE(YamlToProto("token: \"abc\"\n\n", &msg).ok());
  EXPECT_EQ(msg.token(), "abc");
  ASSERT_TRUE(YamlToProto("token: 'it''s'\n", &msg).ok());
  EXPECT_EQ(msg.token(), "it's");
  ASSERT_TRUE(YamlToProto("token: \"a\n  b\"\n", &msg).ok());
  EXPECT_EQ(msg.token(), "a b");
  ASSERT_TRUE(YamlToProto("token: \"a\\\"\"\n", &msg).ok());
  EXPECT_EQ(msg.token(), "a\"");
  ASSERT_TRUE(YamlToProto("token: x # \"quoted comment\n", &msg).ok());
  EXPECT_EQ(msg.token(), "x");
  // A block scalar at the end keeps its final line break (clip chomping):
  // trailing line breaks are still part of the text that is loaded.
  AgentConfig agent;
  ASSERT_TRUE(YamlToProto("labels:\n  note: |\n    two\n    lines\n", &agent).ok());
  EXPECT_EQ(agent.labels().at("note"), "two\nlines\n");
}

constexpr char kTooDeep[] = "invalid YAML: nested more than 64 levels deep";

TEST(YamlNestingTest, SixtyFourLevelsAreAllowed) {
  // The top-level map is level 1; 63 lists under it make 64.
  const std::string yaml = "token: " + Repeat("[", 63) + Repeat("]", 63) + "\n";
  EXPECT_EQ(ServerError(yaml), "token: expected a string");
}

TEST(YamlNestingTest, SixtyFiveLevelsAreNot) {
  const std::string yaml = "token: " + Repeat("[", 64) + Repeat("]", 64) + "\n";
  EXPECT_EQ(ServerError(yaml), std::string("line 1, column 71: ") + kTooDeep);
}

TEST(YamlNestingTest, ErrorPointsAtTheLevelOverTheLimitInMaps) {
  std::string yaml = "a:\n";
  std::string indent = "  ";
  for (int i = 0; i < 70; ++i) {
    yaml += indent + "a:\n";
    indent += "  ";
  }
  yaml += indent + "x\n";
  // Level 65 is the map that starts on line 65.
  EXPECT_EQ(ServerError(yaml), std::string("line 65, column 129: ") + kTooDeep);
}

TEST(YamlNestingTest, HugeDepthsAreRejectedWithoutCrashing) {
  for (int depth : {500, 10'000, 1'000'000}) {
    SCOPED_TRACE(depth);
    EXPECT_THAT(ServerError("token: " + Repeat("[", depth) + "\n"), HasSubstr(kTooDeep));
    EXPECT_THAT(ServerError("token: " + Repeat("{a: ", depth) + "\n"), HasSubstr(kTooDeep));
    EXPECT_THAT(ServerError(Repeat("- ", depth) + "x\n"), HasSubstr(kTooDeep));
    EXPECT_THAT(ServerError(Repeat("[", depth)), HasSubstr(kTooDeep));
  }
}

TEST(YamlNestingTest, DeepBlockSequencesOnSeparateLines) {
  std::string yaml;
  std::string indent;
  for (int i = 0; i < 10'000; ++i) {
    yaml += indent + "-\n";
    indent += " ";
  }
  EXPECT_THAT(ServerError(yaml), HasSubstr(kTooDeep));
}

TEST(YamlAliasTest, ExpansionIsBounded) {
  // 6 KiB of text that expands to 201 hooks of 1000 events each: without a
  // bound, a few more aliases reach billions of strings.
  const std::string doc = "hooks:\n  - &h {name: h, address: 'h:1', events: [" +
                          Repeat("x, ", 999) + "x]}\n" + Repeat("  - *h\n", 200);
  // Each hook is 1003 values (itself, name, address, 1000 events): value
  // 100001 is event 700 of the 100th hook.
  EXPECT_EQ(ServerError(doc),
            "hooks[99].events[700]: more than 100000 values (aliases count each time they "
            "are used)");
}

TEST(YamlAliasTest, ModestAliasUseStillWorks) {
  ServerConfig msg;
  absl::Status st = YamlToProto(
      "hooks:\n  - {name: a, address: 'h:1', events: &ev [tunnel_open, tunnel_close]}\n"
      "  - {name: b, address: 'h:2', events: *ev}\n",
      &msg);
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_EQ(msg.hooks_size(), 2);
  EXPECT_EQ(msg.hooks(1).events_size(), 2);
}

// Found by config_agent_yaml_fuzzer: yaml-cpp 0.7 never consumes a ','
// after a top-level node and yields empty documents forever; YAML::LoadAll
// hung, collecting them until memory ran out. Each case runs in a child
// process that an alarm kills if it hangs again.
TEST(YamlHangTest, StrayCommaAfterTopLevelNodeIsRejectedAtOnce) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const struct {
    const char* yaml;
    const char* error;
  } cases[] = {
      {"'a',\n", "line 1, column 4: expected a single YAML document, found a second one here"},
      {"'a',", "line 1, column 4: expected a single YAML document"},
      {"\"a\" ,\n", "line 1, column 5: expected a single YAML document"},
      {"[a],\n", "line 1, column 4: expected a single YAML document"},
      {"{a: b},\n", "line 1, column 7: expected a single YAML document"},
      {"token: x\n--- 'a',\n", "line 2, column 1: expected a single YAML document"},
      // The fuzzer's input: open at the end, with a stray ',' before it that
      // hides where the quote opened; the end of the text is reported.
      {"'','(''\n", "line 1, column 8: invalid YAML: unterminated quoted string"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.yaml);
    EXPECT_EXIT(
        {
          ::alarm(10);
          ServerConfig msg;
          absl::Status st = YamlToProto(c.yaml, &msg);
          std::fprintf(stderr, "[%s]\n", std::string(st.message()).c_str());
          std::exit(st.ok() ? 1 : 0);
        },
        ::testing::ExitedWithCode(0), ::testing::HasSubstr(std::string("[") + c.error));
  }
}

// Found by config_server_yaml_fuzzer: proto3 strings must be UTF-8, or the
// config cannot be serialized (admin API) nor shown back as YAML (the
// emitter turns the bytes into U+FFFD).
TEST(YamlUtf8Test, InvalidUtf8StringsAreRejected) {
  EXPECT_EQ(ServerError("token: 01\xd6\xcc" "456789a\n"), "token: not valid UTF-8 text");
  EXPECT_EQ(ServerError("hooks: [{name: a, address: \"unix:///x\xff\"}]\n"),
            "hooks[0].address: not valid UTF-8 text");
  AgentConfig agent;
  EXPECT_EQ(YamlToProto("labels: {\"k\xc0\": v}\n", &agent).message(),
            "labels: a key is not valid UTF-8 text");
  EXPECT_EQ(YamlToProto("labels: {k: \"\xed\xa0\x80\"}\n", &agent).message(),
            "labels.k: not valid UTF-8 text");  // an encoded surrogate
}

// Found by config_server_yaml_fuzzer: a key with a line break made the error
// two lines (and could forge a log line).
TEST(YamlUtf8Test, KeysInErrorsAreEscapedWhenNotPlainText) {
  EXPECT_EQ(ServerError("\"to\\nken\": x\n"), "\"to\\nken\": unknown key");
  EXPECT_EQ(ServerError("\"a\\tb\": x\n"), "\"a\\tb\": unknown key");
  EXPECT_EQ(ServerError("k\xff: x\n"), "\"k\\377\": unknown key");
  EXPECT_EQ(ServerError("tls: {\"x\\ry\": 1}\n"), "tls.\"x\\ry\": unknown key");
  EXPECT_EQ(ServerError("caf\xc3\xa9 key: x\n"), "caf\xc3\xa9 key: unknown key");
}

TEST(YamlUtf8Test, Utf8AndEscapesAreFine) {
  ServerConfig msg;
  ASSERT_TRUE(YamlToProto("token: \"caf\xc3\xa9 \\u00e9 \\x9c\"\n", &msg).ok());
  EXPECT_EQ(msg.token(), "caf\xc3\xa9 \xc3\xa9 \xc2\x9c");
}

}  // namespace
}  // namespace reitunnel::config
