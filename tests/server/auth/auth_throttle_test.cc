#include "server/auth/auth_throttle.h"

#include <chrono>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace reitunnel::server {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Clock = AuthThrottle::Clock;

Clock::time_point fake_now;
Clock::time_point FakeNow() { return fake_now; }

AuthThrottleOptions Options() {
  AuthThrottleOptions o;
  o.max_failures = 3;
  o.window = 60s;
  o.first_block = 1s;
  o.max_block = 5s;
  return o;
}

class AuthThrottleTest : public ::testing::Test {
 protected:
  void SetUp() override { fake_now = Clock::time_point(std::chrono::hours(1000)); }
};

TEST_F(AuthThrottleTest, BlocksAfterMaxFailuresForTheFirstBlock) {
  AuthThrottle t(Options());
  t.set_clock_for_testing(&FakeNow);
  EXPECT_EQ(t.RecordFailure("1.2.3.4"), milliseconds(0));
  EXPECT_EQ(t.RecordFailure("1.2.3.4"), milliseconds(0));
  EXPECT_EQ(t.BlockedFor("1.2.3.4"), milliseconds(0));
  EXPECT_EQ(t.RecordFailure("1.2.3.4"), milliseconds(1000));
  EXPECT_GT(t.BlockedFor("1.2.3.4"), milliseconds(999));
  EXPECT_LE(t.BlockedFor("1.2.3.4"), milliseconds(1001));
  EXPECT_EQ(t.BlockedFor("5.6.7.8"), milliseconds(0));  // per source
  fake_now += 400ms;
  EXPECT_EQ(t.BlockedFor("1.2.3.4"), milliseconds(601));
  fake_now += 600ms;
  EXPECT_EQ(t.BlockedFor("1.2.3.4"), milliseconds(0));
  EXPECT_EQ(t.failures(), 3u);
}

TEST_F(AuthThrottleTest, RepeatOffencesDoubleUpToTheCap) {
  AuthThrottle t(Options());
  t.set_clock_for_testing(&FakeNow);
  std::vector<milliseconds> blocks;
  for (int round = 0; round < 5; ++round) {
    milliseconds b{0};
    for (int i = 0; i < 3; ++i) b = t.RecordFailure("x");
    blocks.push_back(b);
    fake_now += b;  // serve the block, then offend again
  }
  EXPECT_EQ(blocks, (std::vector<milliseconds>{1s, 2s, 4s, 5s, 5s}));
}

TEST_F(AuthThrottleTest, SuccessForgivesRecentFailuresButNotABlock) {
  AuthThrottle t(Options());
  t.set_clock_for_testing(&FakeNow);
  t.RecordFailure("x");
  t.RecordFailure("x");
  t.RecordSuccess("x");
  EXPECT_EQ(t.RecordFailure("x"), milliseconds(0));
  EXPECT_EQ(t.RecordFailure("x"), milliseconds(0));
  EXPECT_EQ(t.RecordFailure("x"), milliseconds(1000));
  t.RecordSuccess("x");  // cannot happen during a block in practice; ignored
  EXPECT_GT(t.BlockedFor("x"), milliseconds(0));
  // After the block a success wipes the record: the next block is the
  // first again, not a doubled one.
  fake_now += 1s;
  t.RecordSuccess("x");
  for (int i = 0; i < 2; ++i) EXPECT_EQ(t.RecordFailure("x"), milliseconds(0));
  EXPECT_EQ(t.RecordFailure("x"), milliseconds(1000));
}

TEST_F(AuthThrottleTest, FailuresOutsideTheWindowDoNotAddUp) {
  AuthThrottle t(Options());
  t.set_clock_for_testing(&FakeNow);
  t.RecordFailure("x");
  t.RecordFailure("x");
  fake_now += 61s;
  EXPECT_EQ(t.RecordFailure("x"), milliseconds(0));
  EXPECT_EQ(t.RecordFailure("x"), milliseconds(0));
  EXPECT_EQ(t.RecordFailure("x"), milliseconds(1000));
}

TEST_F(AuthThrottleTest, MemoryIsBoundedByForgettingTheLeastRecentSource) {
  AuthThrottleOptions o = Options();
  o.max_sources = 2;
  o.max_failures = 2;
  AuthThrottle t(o);
  t.set_clock_for_testing(&FakeNow);
  t.RecordFailure("a");
  fake_now += 1ms;
  t.RecordFailure("b");
  fake_now += 1ms;
  t.RecordFailure("c");  // evicts "a", the least recently seen
  fake_now += 1ms;
  EXPECT_EQ(t.RecordFailure("a"), milliseconds(0)) << "a's first failure was remembered";
  // "c" was kept: its second failure blocks.
  EXPECT_EQ(t.RecordFailure("c"), milliseconds(1000));
}

TEST_F(AuthThrottleTest, NewOptionsApplyToLaterFailures) {
  AuthThrottle t(Options());
  t.set_clock_for_testing(&FakeNow);
  AuthThrottleOptions o = Options();
  o.max_failures = 1;
  o.first_block = 7s;
  o.max_block = 60s;
  t.SetOptions(o);
  EXPECT_EQ(t.RecordFailure("x"), milliseconds(7000));
  t.CountRefused();
  EXPECT_EQ(t.refused(), 1u);
}

}  // namespace
}  // namespace reitunnel::server
