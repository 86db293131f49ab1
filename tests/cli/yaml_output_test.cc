#include "cli/yaml_output.h"

#include <cstdint>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reitunnel/admin/v1/admin.pb.h"
#include "yaml-cpp/yaml.h"

namespace reitunnel::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
namespace v1 = ::reitunnel::admin::v1;

// A quoted scalar has the non-specific tag "!", a plain one "?".
bool Quoted(const YAML::Node& n) { return n.Tag() == "!"; }

TEST(YamlNeedsQuotesTest, WhatAReaderWouldTakeForSomethingElse) {
  for (const char* s : {"", "0123", "3f2a9c0d11e4b7a8", "127.0.0.1:7001", "1e3", "1:30", "true",
                        "False", "yes", "NO", "on", "off", "y", "null", "~", "-1", "+5", ".5",
                        "-.inf", ".NaN", " padded", "trailing ", "<<"}) {
    EXPECT_TRUE(YamlNeedsQuotes(s)) << "'" << s << "'";
  }
  for (const char* s : {"web", "abc123", "tunnel_open", "-", "-x", "team=blue", "ready",
                        "disconnected by admin", "PORT_IN_USE: port 1 is in use"}) {
    EXPECT_FALSE(YamlNeedsQuotes(s)) << "'" << s << "'";
  }
}

TEST(ToYamlTest, SameKeysAsJsonAndEveryStringReadsBackAsItself) {
  v1::Client c;
  c.set_client_id("0123456789abcdef");  // all digits and hex: a number if plain
  c.set_remote_addr("127.0.0.1:50000");
  c.set_agent_version("true");
  (*c.mutable_labels())["team"] = "blue";
  (*c.mutable_labels())["env"] = "0";
  c.mutable_connected_at()->set_seconds(1764000000);
  c.set_bytes_in(UINT64_MAX);
  c.add_tunnel_ids("t1");
  c.add_tunnel_ids("2");
  const std::string text = ToYaml(c);
  YAML::Node n = YAML::Load(text);
  EXPECT_EQ(n["client_id"].as<std::string>(), "0123456789abcdef");
  EXPECT_TRUE(Quoted(n["client_id"])) << text;
  EXPECT_TRUE(Quoted(n["remote_addr"]));
  EXPECT_TRUE(Quoted(n["agent_version"]));
  EXPECT_EQ(n["labels"]["team"].as<std::string>(), "blue");
  EXPECT_FALSE(Quoted(n["labels"]["team"]));
  EXPECT_TRUE(Quoted(n["labels"]["env"]));
  // Map entries sorted by key, as in the JSON output.
  EXPECT_LT(text.find("env:"), text.find("team:"));
  EXPECT_EQ(n["connected_at"].as<std::string>(), "2025-11-24T16:00:00Z");
  // 64-bit integers are YAML integers, exact.
  EXPECT_EQ(n["bytes_in"].as<uint64_t>(), UINT64_MAX);
  EXPECT_FALSE(Quoted(n["bytes_in"]));
  ASSERT_TRUE(n["tunnel_ids"].IsSequence());
  EXPECT_EQ(n["tunnel_ids"][1].as<std::string>(), "2");
  EXPECT_TRUE(Quoted(n["tunnel_ids"][1]));
  // Every primitive field is present, zero or not; fields in number order.
  EXPECT_EQ(n["active_visitors"].as<uint64_t>(), 0u);
  EXPECT_EQ(n["agent_id"].as<std::string>(), "");
  EXPECT_THAT(text, StartsWith("client_id:"));
  EXPECT_LT(text.find("labels:"), text.find("connected_at:"));
  EXPECT_TRUE(n["replicas"].IsSequence());
  EXPECT_EQ(n["replicas"].size(), 0u);
}

TEST(ToYamlTest, UnsetMessagesAreLeftOutAndMultiLineTextIsALiteralBlock) {
  v1::ServerInfo info;
  info.set_version("0.1.0");
  info.set_config_yaml("listen: 0.0.0.0:7000\ntoken: <redacted>\n");
  info.set_draining(true);
  const std::string text = ToYaml(info);
  YAML::Node n = YAML::Load(text);
  EXPECT_FALSE(n["started_at"]) << text;  // unset, as in the JSON output
  EXPECT_EQ(n["config_yaml"].as<std::string>(), info.config_yaml());
  EXPECT_THAT(text, HasSubstr("config_yaml: |"));
  EXPECT_EQ(n["draining"].as<bool>(), true);
  EXPECT_TRUE(Quoted(n["version"]));
  // Text without a final newline cannot be a clipped literal block; it
  // still reads back exactly.
  info.set_config_yaml("a: 1\nb: 2");
  EXPECT_EQ(YAML::Load(ToYaml(info))["config_yaml"].as<std::string>(), "a: 1\nb: 2");
  info.set_config_yaml("  indented\nx\n\n");
  EXPECT_EQ(YAML::Load(ToYaml(info))["config_yaml"].as<std::string>(), "  indented\nx\n\n");
}

TEST(ToYamlTest, DoublesRoundTripAndOneofsShowOnlyTheSetMember) {
  v1::ListHooksResponse resp;
  resp.set_strategy("stop_on_error");
  v1::Hook* h = resp.add_hooks();
  h->set_name("policy");
  h->set_latency_p50_ms(0.1);
  h->set_latency_p99_ms(1234.5);
  h->add_events("tunnel_open");
  YAML::Node n = YAML::Load(ToYaml(resp));
  EXPECT_EQ(n["hooks"][0]["latency_p50_ms"].as<double>(), 0.1);
  EXPECT_EQ(n["hooks"][0]["latency_p99_ms"].as<double>(), 1234.5);
  EXPECT_EQ(n["hooks"][0]["events"][0].as<std::string>(), "tunnel_open");
  EXPECT_THAT(ToYaml(resp), Not(HasSubstr("0.10000")));

  v1::Event e;
  e.set_type("tunnel_close");
  e.mutable_tunnel_close()->set_reason("closed by admin");
  const std::string text = ToYaml(e);
  n = YAML::Load(text);
  EXPECT_EQ(n["tunnel_close"]["reason"].as<std::string>(), "closed by admin");
  EXPECT_FALSE(n["tunnel_open"]) << text;
  EXPECT_FALSE(n["error"]);
}

TEST(ToYamlTest, EmptyMessageIsAnEmptyMap) {
  EXPECT_EQ(ToYaml(v1::DisconnectClientResponse()), "{}\n");
  EXPECT_TRUE(YAML::Load(ToYaml(v1::DisconnectClientResponse())).IsMap());
}

}  // namespace
}  // namespace reitunnel::cli
