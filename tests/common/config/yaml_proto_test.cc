#include "common/config/yaml_proto.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reitunnel/config/test/all_types.pb.h"
#include "reitunnel/config/v1/agent.pb.h"
#include "reitunnel/config/v1/server.pb.h"
#include "tests/common/config/test_util.h"

namespace reitunnel::config {
namespace {

using reitunnel::config::test::AllTypes;
using reitunnel::config::v1::AgentConfig;
using reitunnel::config::v1::ServerConfig;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string ErrorOf(const std::string& yaml, google::protobuf::Message* msg) {
  absl::Status st = YamlToProto(yaml, msg);
  EXPECT_FALSE(st.ok()) << "accepted:\n" << yaml;
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  return std::string(st.message());
}

std::string AllTypesError(const std::string& yaml) {
  AllTypes msg;
  return ErrorOf(yaml, &msg);
}

TEST(YamlToProtoTest, FillsEveryScalarType) {
  AllTypes msg;
  ASSERT_TRUE(YamlToProto(R"(
s: hello world
b: true
i32: -2147483648
i64: -9223372036854775808
u32: 4294967295
u64: 18446744073709551615
d: 1.5e3
f: -0.25
color: GREEN
)",
                          &msg)
                  .ok());
  EXPECT_EQ(msg.s(), "hello world");
  EXPECT_TRUE(msg.b());
  EXPECT_EQ(msg.i32(), -2147483648);
  EXPECT_EQ(msg.i64(), INT64_MIN);
  EXPECT_EQ(msg.u32(), 4294967295u);
  EXPECT_EQ(msg.u64(), UINT64_MAX);
  EXPECT_DOUBLE_EQ(msg.d(), 1500);
  EXPECT_FLOAT_EQ(msg.f(), -0.25f);
  EXPECT_EQ(msg.color(), test::GREEN);
}

TEST(YamlToProtoTest, StringFieldsTakeAnyScalarVerbatim) {
  AllTypes msg;
  ASSERT_TRUE(YamlToProto("s: 0123\nstrs: [20080, 'yes', \"a:b\"]\n", &msg).ok());
  EXPECT_EQ(msg.s(), "0123");
  EXPECT_THAT(msg.strs(), ::testing::ElementsAre("20080", "yes", "a:b"));
}

TEST(YamlToProtoTest, AcceptsYamlBoolAndNumberSpellings) {
  AllTypes msg;
  ASSERT_TRUE(YamlToProto("b: yes\ni32: +7\nd: -.inf\nf: .NaN\nu32: '42'\n", &msg).ok());
  EXPECT_TRUE(msg.b());
  EXPECT_EQ(msg.i32(), 7);
  EXPECT_TRUE(std::isinf(msg.d()) && msg.d() < 0);
  EXPECT_TRUE(std::isnan(msg.f()));
  EXPECT_EQ(msg.u32(), 42u);
  ASSERT_TRUE(YamlToProto("b: Off\n", &msg).ok());
  EXPECT_FALSE(msg.b());
}

TEST(YamlToProtoTest, FillsNestedRepeatedAndMaps) {
  AllTypes msg;
  ASSERT_TRUE(YamlToProto(R"(
inner: {s: x, u: 3, tags: [a, b]}
inners:
  - s: first
  - u: 9
ints: [1, -2, 3]
colors: [RED, GREEN]
labels:
  team: infra
  "app.kubernetes.io/name": web
inner_map:
  k1: {u: 1}
  k2:
int_keyed:
  7: seven
)",
                          &msg)
                  .ok());
  EXPECT_EQ(msg.inner().s(), "x");
  EXPECT_EQ(msg.inner().u(), 3u);
  EXPECT_THAT(msg.inner().tags(), ::testing::ElementsAre("a", "b"));
  ASSERT_EQ(msg.inners_size(), 2);
  EXPECT_EQ(msg.inners(0).s(), "first");
  EXPECT_EQ(msg.inners(1).u(), 9u);
  EXPECT_THAT(msg.ints(), ::testing::ElementsAre(1, -2, 3));
  EXPECT_THAT(msg.colors(), ::testing::ElementsAre(test::RED, test::GREEN));
  EXPECT_EQ(msg.labels().at("team"), "infra");
  EXPECT_EQ(msg.labels().at("app.kubernetes.io/name"), "web");
  EXPECT_EQ(msg.inner_map().at("k1").u(), 1u);
  EXPECT_EQ(msg.inner_map().count("k2"), 1u);
  EXPECT_EQ(msg.int_keyed().at(7), "seven");
}

TEST(YamlToProtoTest, EmptyOrNullDocumentIsAnEmptyConfig) {
  for (const char* yaml : {"", "\n", "# just a comment\n", "~\n", "---\n"}) {
    ServerConfig msg;
    msg.set_listen("left over");
    ASSERT_TRUE(YamlToProto(yaml, &msg).ok()) << yaml;
    EXPECT_EQ(msg.ByteSizeLong(), 0u) << "not replaced for: " << yaml;
  }
}

TEST(YamlToProtoTest, NullValueLeavesFieldAtDefault) {
  ServerConfig msg;
  ASSERT_TRUE(YamlToProto("listen:\ntls:\nhooks:\nlimits: ~\n", &msg).ok());
  EXPECT_EQ(msg.listen(), "");
  EXPECT_FALSE(msg.has_tls());
  EXPECT_EQ(msg.hooks_size(), 0);
}

TEST(YamlToProtoTest, LeavesMessageUnchangedOnError) {
  ServerConfig msg;
  msg.set_listen("keep");
  EXPECT_FALSE(YamlToProto("admin: 1.2.3.4:5\nbogus: 1\n", &msg).ok());
  EXPECT_EQ(msg.listen(), "keep");
  EXPECT_EQ(msg.admin(), "");
}

TEST(YamlToProtoTest, UnsignedRejectsNegativesFractionsAndText) {
  for (const char* bad : {"-1", "1.5", "abc", "''", "0x10", "1e3", "[1]", "{a: 1}"}) {
    ServerConfig msg;
    EXPECT_EQ(ErrorOf(std::string("limits:\n  max_tunnels_per_agent: ") + bad + "\n", &msg),
              "limits.max_tunnels_per_agent: expected an unsigned integer")
        << bad;
  }
}

TEST(YamlToProtoTest, IntegersRejectOverflow) {
  EXPECT_EQ(AllTypesError("u32: 4294967296"), "u32: integer out of range (0 to 4294967295)");
  EXPECT_EQ(AllTypesError("i32: 2147483648"),
            "i32: integer out of range (-2147483648 to 2147483647)");
  EXPECT_EQ(AllTypesError("i32: -2147483649"),
            "i32: integer out of range (-2147483648 to 2147483647)");
  EXPECT_THAT(AllTypesError("i64: 9223372036854775808"), HasSubstr("i64: integer out of range"));
  EXPECT_THAT(AllTypesError("u64: 18446744073709551616"), HasSubstr("u64: integer out of range"));
  EXPECT_EQ(AllTypesError("i32: 1.0"), "i32: expected an integer");
  EXPECT_EQ(AllTypesError("ints: [1, x]"), "ints[1]: expected an integer");
}

TEST(YamlToProtoTest, OtherScalarTypeErrors) {
  EXPECT_EQ(AllTypesError("b: maybe"), "b: expected true or false");
  EXPECT_EQ(AllTypesError("d: abc"), "d: expected a number");
  EXPECT_EQ(AllTypesError("d: 1e999"), "d: number out of range");
  EXPECT_EQ(AllTypesError("f: 1e39"), "f: number out of range");
  EXPECT_EQ(AllTypesError("color: BLUE"), "color: expected one of COLOR_UNSPECIFIED, RED, GREEN");
  EXPECT_EQ(AllTypesError("colors: [RED, 1]"),
            "colors[1]: expected one of COLOR_UNSPECIFIED, RED, GREEN");
  EXPECT_EQ(AllTypesError("one_a: x\none_b: 1"), "one_b: only one field of choice may be set");
  EXPECT_EQ(AllTypesError("int_keyed:\n  x: y"), "int_keyed.x: key: expected an integer");
}

TEST(YamlToProtoTest, UnknownKeyNamesItsPath) {
  AgentConfig msg;
  EXPECT_EQ(ErrorOf(R"(
tunnels:
  - name: a
    local_addr: 127.0.0.1:1
  - name: b
    lcoal_addr: 127.0.0.1:2
)",
                    &msg),
            "tunnels[1].lcoal_addr: unknown key");
  EXPECT_EQ(ErrorOf("tls:\n  enable: true\n", &msg), "tls.enable: unknown key");
  EXPECT_EQ(ErrorOf("serverr: x\n", &msg), "serverr: unknown key");
  // Keys are proto field names, not JSON camelCase names.
  EXPECT_EQ(ErrorOf("connectTimeoutMs: 1\n", &msg), "connectTimeoutMs: unknown key");
}

TEST(YamlToProtoTest, MapValuesMustBeStrings) {
  AgentConfig msg;
  EXPECT_EQ(ErrorOf("labels:\n  team: [a, b]\n", &msg), "labels.team: expected a string");
  EXPECT_EQ(ErrorOf("labels:\n  team: {a: b}\n", &msg), "labels.team: expected a string");
  EXPECT_EQ(ErrorOf("labels:\n  team:\n", &msg), "labels.team: expected a string");
}

TEST(YamlToProtoTest, ShapeMismatchesNameTheirPath) {
  AgentConfig agent;
  EXPECT_EQ(ErrorOf("tls: true\n", &agent), "tls: expected a map");
  EXPECT_EQ(ErrorOf("tls: [a]\n", &agent), "tls: expected a map");
  EXPECT_EQ(ErrorOf("server: {host: x}\n", &agent), "server: expected a string");
  EXPECT_EQ(ErrorOf("server: [x]\n", &agent), "server: expected a string");
  EXPECT_EQ(ErrorOf("tunnels: web\n", &agent), "tunnels: expected a list");
  EXPECT_EQ(ErrorOf("tunnels: {name: web}\n", &agent), "tunnels: expected a list");
  EXPECT_EQ(ErrorOf("tunnels: [web]\n", &agent), "tunnels[0]: expected a map");
  EXPECT_EQ(ErrorOf("labels: [a]\n", &agent), "labels: expected a map");
  EXPECT_EQ(ErrorOf("labels: a\n", &agent), "labels: expected a map");
  EXPECT_EQ(ErrorOf("- a\n- b\n", &agent), "expected a map of settings at the top level");
  EXPECT_EQ(ErrorOf("just text\n", &agent), "expected a map of settings at the top level");
}

TEST(YamlToProtoTest, RejectsNonScalarAndDuplicateKeys) {
  AgentConfig msg;
  EXPECT_EQ(ErrorOf("? [a, b]\n: c\n", &msg), "top level: keys must be plain strings");
  EXPECT_EQ(ErrorOf("labels:\n  ? {a: b}\n  : c\n", &msg), "labels: keys must be plain strings");
  EXPECT_EQ(ErrorOf("tls:\n  ~: x\n", &msg), "tls: keys must be plain strings");
  EXPECT_EQ(ErrorOf("server: a:1\nserver: b:2\n", &msg), "server: duplicate key");
  EXPECT_EQ(ErrorOf("labels:\n  a: x\n  a: y\n", &msg), "labels.a: duplicate key");
}

TEST(YamlToProtoTest, SyntaxErrorsCarryLineAndColumn) {
  ServerConfig msg;
  const std::string err = ErrorOf("listen: 1.2.3.4:5\nhooks: [a\n", &msg);
  EXPECT_THAT(err, StartsWith("line "));
  EXPECT_THAT(err, HasSubstr(", column "));
  EXPECT_THAT(err, HasSubstr("invalid YAML"));
  EXPECT_THAT(ErrorOf("a: b\n  c: d\n", &msg), StartsWith("line 2, column "));
}

TEST(YamlToProtoTest, RejectsSeveralDocuments) {
  ServerConfig msg;
  EXPECT_EQ(ErrorOf("listen: a:1\n---\nadmin: b:2\n", &msg),
            "line 2, column 1: expected a single YAML document, found a second one here");
}

TEST(YamlToProtoTest, ErrorsNeverEchoValues) {
  const char* kSecret = "s3cr3t-t0ken";
  for (const std::string& yaml : {
           std::string("token: [") + kSecret + "]\n",
           std::string("token: {") + kSecret + ": 1}\n",
           std::string("token: \"") + kSecret + "\\q\"\n",  // bad escape
           std::string("token: {a: ") + kSecret + "\n",     // unterminated
           std::string("limits: {max_agents: ") + kSecret + "}\n",
           std::string("token: ") + kSecret + "\ntoken: " + kSecret + "\n",
       }) {
    ServerConfig msg;
    const std::string err = ErrorOf(yaml, &msg);
    EXPECT_THAT(err, Not(HasSubstr(kSecret))) << yaml;
    EXPECT_THAT(err, Not(HasSubstr("s3cr"))) << yaml;
  }
}

TEST(LoadYamlFileTest, LoadsFile) {
  testing::TempDir dir;
  const std::string path =
      dir.Write("server.yaml", "listen: 127.0.0.1:7000\nlimits:\n  max_agents: 3\n");
  ServerConfig msg;
  ASSERT_TRUE(LoadYamlFile(path, &msg).ok());
  EXPECT_EQ(msg.listen(), "127.0.0.1:7000");
  EXPECT_EQ(msg.limits().max_agents(), 3u);
}

TEST(LoadYamlFileTest, ErrorsStartWithThePath) {
  testing::TempDir dir;
  const std::string path = dir.Write("cfg.yaml", "tls:\n  cert_file: [a]\n");
  ServerConfig msg;
  absl::Status st = LoadYamlFile(path, &msg);
  EXPECT_EQ(st.message(), path + ": tls.cert_file: expected a string");

  const std::string top = dir.Write("top.yaml", "[1, 2]\n");
  EXPECT_EQ(LoadYamlFile(top, &msg).message(),
            top + ": expected a map of settings at the top level");
}

TEST(LoadYamlFileTest, SyntaxErrorHasFileLineColumn) {
  testing::TempDir dir;
  const std::string path = dir.Write("bad.yaml", "listen: a:1\nadmin: b:2\n  oops: x\n");
  ServerConfig msg;
  const std::string err(LoadYamlFile(path, &msg).message());
  EXPECT_THAT(err, StartsWith(path + ":3:"));
  EXPECT_THAT(err, HasSubstr("invalid YAML"));
}

TEST(LoadYamlFileTest, MissingOrUnreadableFile) {
  testing::TempDir dir;
  ServerConfig msg;
  const std::string missing = dir.path() + "/nope.yaml";
  absl::Status st = LoadYamlFile(missing, &msg);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), missing + ": cannot read: No such file or directory");
  EXPECT_EQ(LoadYamlFile(dir.path(), &msg).message(),
            dir.path() + ": cannot read: a directory, not a regular file");
  EXPECT_FALSE(LoadYamlFile("", &msg).ok());
}

TEST(LoadYamlFileTest, EmptyFileIsEmptyConfig) {
  testing::TempDir dir;
  ServerConfig msg;
  EXPECT_TRUE(LoadYamlFile(dir.Write("empty.yaml", ""), &msg).ok());
  EXPECT_EQ(msg.ByteSizeLong(), 0u);
}

}  // namespace
}  // namespace reitunnel::config

namespace reitunnel::config {
namespace {

TEST(ProtoToYamlTest, RoundTripsAServerConfig) {
  v1::ServerConfig cfg;
  cfg.set_listen("0.0.0.0:7000");
  cfg.set_token("with \"quotes\": and: colons #");
  cfg.mutable_limits()->set_max_tunnels_per_agent(3);
  auto* h = cfg.add_hooks();
  h->set_name("audit");
  h->set_address("dns:///audit.hooks.svc:7100");
  h->add_events("tunnel_open");
  h->add_events("data");
  cfg.add_hooks()->set_name("second");
  std::string yaml = ProtoToYaml(cfg);
  EXPECT_NE(yaml.find("max_tunnels_per_agent: 3"), std::string::npos) << yaml;
  v1::ServerConfig back;
  ASSERT_TRUE(YamlToProto(yaml, &back).ok()) << yaml;
  EXPECT_EQ(back.SerializeAsString(), cfg.SerializeAsString()) << yaml;
}

TEST(ProtoToYamlTest, RoundTripsMapsAndEmptyMessages) {
  v1::AgentConfig cfg;
  (*cfg.mutable_labels())["team"] = "blue";
  (*cfg.mutable_labels())["tier"] = "1";
  std::string yaml = ProtoToYaml(cfg);
  v1::AgentConfig back;
  ASSERT_TRUE(YamlToProto(yaml, &back).ok()) << yaml;
  EXPECT_EQ(back.labels().at("tier"), "1");
  EXPECT_EQ(back.labels().size(), 2u);
  EXPECT_EQ(ProtoToYaml(v1::AgentConfig()), "");
}

}  // namespace
}  // namespace reitunnel::config
