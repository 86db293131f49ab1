#include "server/registry/bans.h"

#include <chrono>

#include "gtest/gtest.h"

namespace reitunnel::server {
namespace {

using namespace std::chrono_literals;
using Clock = Bans::Clock;

Clock::time_point fake_now;
Clock::time_point FakeNow() { return fake_now; }

class BansTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_now = Clock::time_point(std::chrono::hours(1000));
    bans_.set_clock_for_testing(&FakeNow);
  }
  Ban MakeBan(const std::string& who, const std::string& tunnel, std::chrono::seconds for_) {
    Ban b;
    b.identity = who;
    b.tunnel_name = tunnel;
    b.reason = "abuse";
    b.until = fake_now + for_;
    b.created = fake_now;
    return b;
  }
  Bans bans_;
};

TEST_F(BansTest, AgentBanCoversAllItsTunnelsUntilItExpires) {
  bans_.Add(MakeBan("agent-7", "", 60s));
  ASSERT_TRUE(bans_.ForAgent("agent-7").has_value());
  EXPECT_EQ(bans_.ForAgent("agent-7")->reason, "abuse");
  EXPECT_TRUE(bans_.ForTunnel("agent-7", "web").has_value());
  EXPECT_FALSE(bans_.ForAgent("agent-8").has_value());
  fake_now += 59s;
  EXPECT_TRUE(bans_.ForAgent("agent-7").has_value());
  fake_now += 1s;
  EXPECT_FALSE(bans_.ForAgent("agent-7").has_value());
  EXPECT_FALSE(bans_.ForTunnel("agent-7", "web").has_value());
  EXPECT_TRUE(bans_.List().empty());
}

TEST_F(BansTest, TunnelBanCoversOnlyThatTunnel) {
  bans_.Add(MakeBan("10.0.0.5", "db", 60s));
  EXPECT_FALSE(bans_.ForAgent("10.0.0.5").has_value());
  EXPECT_TRUE(bans_.ForTunnel("10.0.0.5", "db").has_value());
  EXPECT_FALSE(bans_.ForTunnel("10.0.0.5", "web").has_value());
  EXPECT_FALSE(bans_.ForTunnel("10.0.0.6", "db").has_value());
}

TEST_F(BansTest, AddingAgainExtendsAndNeverShortens) {
  bans_.Add(MakeBan("a", "", 60s));
  auto longer = MakeBan("a", "", 600s);
  longer.reason = "again";
  bans_.Add(longer);
  bans_.Add(MakeBan("a", "", 10s));
  ASSERT_EQ(bans_.List().size(), 1u);
  EXPECT_EQ(bans_.List()[0].until, fake_now + 600s);
  fake_now += 300s;
  EXPECT_TRUE(bans_.ForAgent("a").has_value());
}

TEST_F(BansTest, ListIsOldestFirstAndRemoveIsExact) {
  bans_.Add(MakeBan("a", "", 60s));
  fake_now += 1s;
  bans_.Add(MakeBan("b", "web", 60s));
  fake_now += 1s;
  bans_.Add(MakeBan("a", "web", 60s));
  auto list = bans_.List();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].identity, "a");
  EXPECT_EQ(list[1].identity, "b");
  EXPECT_EQ(list[2].tunnel_name, "web");
  EXPECT_FALSE(bans_.Remove("a", "db"));
  EXPECT_TRUE(bans_.Remove("a", ""));  // the agent ban, not its tunnel ban
  EXPECT_FALSE(bans_.ForAgent("a").has_value());
  EXPECT_TRUE(bans_.ForTunnel("a", "web").has_value());
  EXPECT_FALSE(bans_.Remove("a", ""));
}

TEST_F(BansTest, AnExpiredBanCannotBeRemoved) {
  bans_.Add(MakeBan("a", "", 10s));
  fake_now += 20s;
  EXPECT_FALSE(bans_.Remove("a", ""));
}

}  // namespace
}  // namespace reitunnel::server
