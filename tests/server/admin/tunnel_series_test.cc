#include "server/admin/tunnel_series.h"

#include <chrono>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace reitunnel::server {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::chrono::system_clock::time_point At(int seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

TunnelSample Sample(std::string id, std::string name, std::string client, int opened,
                    uint64_t in = 0, uint64_t out = 0, uint64_t visitors = 0) {
  return {std::move(id), std::move(name), std::move(client), At(opened), in, out, visitors};
}

TEST(SelectTunnelSeriesTest, UnderTheCapEveryTunnelSortedByLabels) {
  auto sel = SelectTunnelSeries({Sample("t2", "web", "b", 5, 10, 20, 1),
                                 Sample("t1", "api", "a", 9, 1, 2, 0)},
                                10);
  ASSERT_EQ(sel.series.size(), 2u);
  EXPECT_EQ(sel.series[0].client, "a");
  EXPECT_EQ(sel.series[0].name, "api");
  EXPECT_EQ(sel.series[1].name, "web");
  EXPECT_EQ(sel.series[1].bytes_in, 10u);
  EXPECT_EQ(sel.series[1].bytes_out, 20u);
  EXPECT_EQ(sel.series[1].visitors, 1u);
  EXPECT_THAT(sel.cut_ids, IsEmpty());
}

TEST(SelectTunnelSeriesTest, CapKeepsTheLongestOpenAndReportsTheRest) {
  auto sel = SelectTunnelSeries({Sample("new", "c", "x", 30), Sample("old", "a", "x", 10),
                                 Sample("mid", "b", "x", 20)},
                                2);
  ASSERT_EQ(sel.series.size(), 2u);
  EXPECT_EQ(sel.series[0].name, "a");
  EXPECT_EQ(sel.series[1].name, "b");
  EXPECT_THAT(sel.cut_ids, ElementsAre("new"));
  // Ties on the open time go by id, so the choice is the same every scrape.
  sel = SelectTunnelSeries({Sample("z", "z", "x", 1), Sample("y", "y", "x", 1)}, 1);
  ASSERT_EQ(sel.series.size(), 1u);
  EXPECT_EQ(sel.series[0].name, "y");
  EXPECT_THAT(sel.cut_ids, ElementsAre("z"));
  EXPECT_THAT(SelectTunnelSeries({Sample("a", "a", "x", 1)}, 0).cut_ids, ElementsAre("a"));
}

TEST(SelectTunnelSeriesTest, SameLabelsAreSummedIntoOneSeries) {
  // Two agents behind one NAT address, both with a tunnel "web".
  auto sel = SelectTunnelSeries(
      {Sample("t1", "web", "198.51.100.7", 1, 100, 10, 2),
       Sample("t2", "web", "198.51.100.7", 2, 5, 1, 1)},
      10);
  ASSERT_EQ(sel.series.size(), 1u);
  EXPECT_EQ(sel.series[0].bytes_in, 105u);
  EXPECT_EQ(sel.series[0].bytes_out, 11u);
  EXPECT_EQ(sel.series[0].visitors, 3u);
}

TEST(CutTunnelCounterTest, CountsEachTunnelOnceWhileItStaysCut) {
  CutTunnelCounter c;
  EXPECT_EQ(c.Note({}), 0u);
  EXPECT_EQ(c.Note({"a", "b"}), 2u);
  EXPECT_EQ(c.Note({"a", "b"}), 2u);  // the same tunnels, scraped again
  EXPECT_EQ(c.Note({"b", "c"}), 3u);  // c is new
  EXPECT_EQ(c.Note({}), 3u);          // never goes down
  EXPECT_EQ(c.Note({"a"}), 4u);       // left out again after it was back
}

}  // namespace
}  // namespace reitunnel::server
