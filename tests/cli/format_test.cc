#include "cli/format.h"

#include <string>

#include "cli/commands/events.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reitunnel/admin/v1/admin.pb.h"

namespace reitunnel::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

google::protobuf::Timestamp Ts(int64_t seconds) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(seconds);
  return ts;
}

TEST(HumanBytesTest, Units) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1), "1 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1024), "1.0 KiB");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(1258291), "1.2 MiB");
  EXPECT_EQ(HumanBytes(3ull << 30), "3.0 GiB");
  EXPECT_EQ(HumanBytes(5ull << 40), "5.0 TiB");
  EXPECT_EQ(HumanBytes(UINT64_MAX), "16.0 EiB");
}

TEST(HumanBytesTest, RoundsUpToTheNextUnitInsteadOf1024) {
  EXPECT_EQ(HumanBytes(1048575), "1.0 MiB");  // not "1024.0 KiB"
  EXPECT_EQ(HumanBytes(1048000), "1023.4 KiB");
}

TEST(HumanDurationTest, KubectlStyle) {
  EXPECT_EQ(HumanDuration(absl::ZeroDuration()), "0s");
  EXPECT_EQ(HumanDuration(absl::Milliseconds(999)), "0s");
  EXPECT_EQ(HumanDuration(absl::Seconds(45)), "45s");
  EXPECT_EQ(HumanDuration(absl::Seconds(60)), "1m");
  EXPECT_EQ(HumanDuration(absl::Seconds(192)), "3m12s");
  EXPECT_EQ(HumanDuration(absl::Hours(5) + absl::Minutes(7) + absl::Seconds(9)), "5h7m");
  EXPECT_EQ(HumanDuration(absl::Hours(2)), "2h");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 3 + 4) + absl::Minutes(59)), "3d4h");
  EXPECT_EQ(HumanDuration(absl::Hours(48)), "2d");
  EXPECT_EQ(HumanDuration(-absl::Seconds(5)), "0s");
}

TEST(AgeTest, FromTimestamp) {
  const absl::Time now = absl::FromUnixSeconds(1'000'000);
  EXPECT_EQ(Age(Ts(1'000'000 - 192), now), "3m12s");
  EXPECT_EQ(Age(Ts(1'000'000 + 10), now), "0s");  // clock skew
  EXPECT_EQ(Age(google::protobuf::Timestamp(), now), "-");
}

TEST(FormatTimestampTest, Rfc3339Utc) {
  EXPECT_EQ(FormatTimestamp(Ts(0)), "-");
  EXPECT_EQ(FormatTimestamp(Ts(1764099180)), "2025-11-25T19:33:00Z");
}

TEST(TableTest, AlignsColumnsWithoutTrailingSpaces) {
  Table t({"ID", "NAME", "PORT"});
  t.AddRow({"a1", "web", "20080"});
  t.AddRow({"b22222", "database-primary", "5"});
  EXPECT_EQ(t.Render(),
            "ID       NAME               PORT\n"
            "a1       web                20080\n"
            "b22222   database-primary   5\n");
}

TEST(TableTest, EmptyCellsAndMissingCellsPrintDash) {
  Table t({"A", "B", "C"});
  t.AddRow({"x", ""});
  EXPECT_EQ(t.Render(),
            "A   B   C\n"
            "x   -   -\n");
}

TEST(TableTest, HeaderOnlyWhenEmpty) {
  Table t({"NAME", "ADDRESS"});
  EXPECT_EQ(t.Render(), "NAME   ADDRESS\n");
}

TEST(TableTest, CountsUtf8CodePoints) {
  Table t({"N", "X"});
  t.AddRow({"\xc3\xa9t\xc3\xa9", "1"});  // "été": 3 code points, 5 bytes
  t.AddRow({"abcd", "2"});
  EXPECT_EQ(t.Render(),
            "N      X\n"
            "\xc3\xa9t\xc3\xa9    1\n"
            "abcd   2\n");
}

TEST(KeyValuesTest, AlignsValues) {
  EXPECT_EQ(KeyValues({{"version", "0.1.0"}, {"public ports", "20000-20100"}, {"tls", ""}}),
            "version:       0.1.0\n"
            "public ports:  20000-20100\n"
            "tls:           -\n");
}

TEST(FormatLabelsTest, SortedByKey) {
  EXPECT_EQ(FormatLabels({}), "-");
  EXPECT_EQ(FormatLabels({{"team", "blue"}, {"env", "prod"}}), "env=prod,team=blue");
}

TEST(LabelSelectorTest, JoinsRepeatedAndCommaSeparatedFlags) {
  std::string sel, err;
  ASSERT_TRUE(BuildLabelSelector({"team=blue", "env=prod,zone=a"}, &sel, &err)) << err;
  EXPECT_EQ(sel, "team=blue,env=prod,zone=a");
  ASSERT_TRUE(BuildLabelSelector({}, &sel, &err));
  EXPECT_EQ(sel, "");
  ASSERT_TRUE(BuildLabelSelector({"empty="}, &sel, &err));
  EXPECT_EQ(sel, "empty=");
  ASSERT_TRUE(BuildLabelSelector({"url=a=b"}, &sel, &err));
  EXPECT_EQ(sel, "url=a=b");
}

TEST(LabelSelectorTest, RejectsItemsWithoutKeyOrEquals) {
  std::string sel, err;
  EXPECT_FALSE(BuildLabelSelector({"team"}, &sel, &err));
  EXPECT_THAT(err, HasSubstr("KEY=VALUE"));
  EXPECT_FALSE(BuildLabelSelector({"=blue"}, &sel, &err));
  EXPECT_FALSE(BuildLabelSelector({"a=b,"}, &sel, &err));
}

TEST(ToJsonTest, ProtoFieldNamesAndEveryPrimitiveField) {
  admin::v1::Tunnel t;
  t.set_tunnel_id("t1");
  t.set_bytes_in(1234);
  const std::string json = ToJson(t, JsonStyle::kCompact);
  EXPECT_THAT(json, HasSubstr("\"tunnel_id\":\"t1\""));
  EXPECT_THAT(json, Not(HasSubstr("tunnelId")));
  // proto3 JSON: 64-bit integers are strings; zeros are present.
  EXPECT_THAT(json, HasSubstr("\"bytes_in\":\"1234\""));
  EXPECT_THAT(json, HasSubstr("\"bytes_out\":\"0\""));
  EXPECT_THAT(json, HasSubstr("\"remote_port\":0"));
  EXPECT_THAT(json, HasSubstr("\"name\":\"\""));
  EXPECT_THAT(json, Not(HasSubstr("\n")));
}

TEST(ToJsonTest, StableAcrossRuns) {
  admin::v1::ListTunnelsResponse resp;
  for (int i = 0; i < 3; ++i) {
    auto* t = resp.add_tunnels();
    t->set_tunnel_id("t" + std::to_string(i));
    t->set_remote_port(20000 + i);
  }
  resp.set_total_size(3);
  const std::string a = ToJson(resp, JsonStyle::kPretty);
  EXPECT_EQ(a, ToJson(resp, JsonStyle::kPretty));
  // One document, list under "tunnels", in order, no trailing newline.
  EXPECT_EQ(a.front(), '{');
  EXPECT_EQ(a.back(), '}');
  EXPECT_LT(a.find("\"t0\""), a.find("\"t1\""));
  EXPECT_THAT(a, HasSubstr("\"tunnels\""));
  EXPECT_THAT(a, HasSubstr("\"next_page_token\""));
  EXPECT_THAT(a, HasSubstr("\"total_size\""));
}

TEST(ToJsonTest, MapsAndTimestamps) {
  admin::v1::Client c;
  (*c.mutable_labels())["team"] = "blue";
  c.mutable_connected_at()->set_seconds(1764099180);
  const std::string json = ToJson(c, JsonStyle::kCompact);
  EXPECT_THAT(json, HasSubstr("\"labels\":{\"team\":\"blue\"}"));
  EXPECT_THAT(json, HasSubstr("\"connected_at\":\"2025-11-25T19:33:00Z\""));
  EXPECT_THAT(json, HasSubstr("\"tunnel_ids\":[]"));
}

TEST(ToJsonTest, MapKeysAreSorted) {
  admin::v1::Client c;
  // Enough keys that hash order would differ from sorted order.
  for (const char* k : {"zeta", "alpha", "mike", "bravo", "yankee", "charlie", "x", "delta"}) {
    (*c.mutable_labels())[k] = "v";
  }
  EXPECT_THAT(ToJson(c, JsonStyle::kCompact),
              HasSubstr("\"labels\":{\"alpha\":\"v\",\"bravo\":\"v\",\"charlie\":\"v\","
                        "\"delta\":\"v\",\"mike\":\"v\",\"x\":\"v\",\"yankee\":\"v\","
                        "\"zeta\":\"v\"}"));
}

TEST(ToJsonTest, EventWithPayload) {
  admin::v1::Event e;
  e.set_type("tunnel_close");
  e.mutable_tunnel_close()->set_bytes_sent(7);
  const std::string json = ToJson(e, JsonStyle::kCompact);
  EXPECT_THAT(json, HasSubstr("\"type\":\"tunnel_close\""));
  EXPECT_THAT(json, HasSubstr("\"tunnel_close\":{"));
  EXPECT_THAT(json, HasSubstr("\"bytes_sent\":\"7\""));
  EXPECT_THAT(json, Not(HasSubstr("tunnel_open")));  // unset oneof members stay out
}

TEST(EventLineTest, TunnelOpenShowsNamePortAndDecision) {
  admin::v1::Event e;
  e.set_type("tunnel_open");
  *e.mutable_time() = Ts(1764099180);
  e.set_client_id("c0c0c0c0c0c0c0c0");
  e.set_tunnel_id("t1t1t1t1t1t1t1t1");
  e.set_allowed(true);
  e.mutable_tunnel_open()->set_tunnel_name("web");
  e.mutable_tunnel_open()->set_remote_port(20080);
  const std::string line = EventLine(e);
  EXPECT_EQ(line.rfind("2025-11-25T19:33:00.000Z", 0), 0u) << line;
  EXPECT_THAT(line, HasSubstr(" tunnel_open "));
  EXPECT_THAT(line, HasSubstr(" c0c0c0c0c0c0c0c0 t1t1t1t1t1t1t1t1 "));
  EXPECT_THAT(line, HasSubstr("name=web port=20080 allowed"));
  // Columns line up with the header.
  EXPECT_EQ(EventHeader().find("TYPE"), line.find("tunnel_open"));
  EXPECT_EQ(EventHeader().find("DETAIL"), line.find("name=web"));
}

TEST(EventLineTest, DeniedDecisionQuotesTheReason) {
  admin::v1::Event e;
  e.set_type("client_connect");
  e.set_allowed(false);
  e.set_reason("not on the list");
  e.mutable_client_connect()->set_client_id("c");
  EXPECT_THAT(EventLine(e), HasSubstr("denied reason=\"not on the list\""));
}

TEST(EventLineTest, TunnelCloseShowsReasonAndBytes) {
  admin::v1::Event e;
  e.set_type("tunnel_close");
  auto* p = e.mutable_tunnel_close();
  p->set_reason("closed by admin");
  p->set_bytes_received(2048);
  p->set_bytes_sent(10);
  p->set_visitors(3);
  const std::string line = EventLine(e);
  EXPECT_THAT(line, HasSubstr("reason=\"closed by admin\" in=2.0KiB out=10B visitors=3"));
  EXPECT_THAT(line, HasSubstr(" - "));  // missing ids print as "-"
}

}  // namespace
}  // namespace reitunnel::cli
