#include "client/backoff.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "gtest/gtest.h"

namespace reitunnel::client {
namespace {

using std::chrono::milliseconds;

// initial 500 ms, max 60 s, quick cap 2 s (the agent's defaults' shape).
Backoff Make(uint64_t seed = 1) { return Backoff(milliseconds(500), milliseconds(60000), milliseconds(2000), seed); }

TEST(BackoffTest, CapDoublesPerAttempt) {
  Backoff b = Make();
  EXPECT_EQ(b.CapFor(0, FailureKind::kUnreachable), milliseconds(500));
  EXPECT_EQ(b.CapFor(1, FailureKind::kUnreachable), milliseconds(1000));
  EXPECT_EQ(b.CapFor(3, FailureKind::kUnreachable), milliseconds(4000));
  EXPECT_EQ(b.CapFor(-5, FailureKind::kUnreachable), milliseconds(500));
}

TEST(BackoffTest, UnreachableServerBacksOffToTheFullMaximum) {
  Backoff b = Make();
  EXPECT_EQ(b.CapFor(7, FailureKind::kUnreachable), milliseconds(60000));
  EXPECT_EQ(b.CapFor(1000, FailureKind::kUnreachable), milliseconds(60000));  // no overflow
}

TEST(BackoffTest, ServerThatAnsweredIsRetriedWithinTheQuickCap) {
  Backoff b = Make();
  for (FailureKind k :
       {FailureKind::kRefused, FailureKind::kServerRefused, FailureKind::kDisconnected}) {
    EXPECT_EQ(b.CapFor(1, k), milliseconds(1000));
    EXPECT_EQ(b.CapFor(2, k), milliseconds(2000));
    EXPECT_EQ(b.CapFor(10, k), milliseconds(2000));
    EXPECT_EQ(b.CapFor(1000, k), milliseconds(2000));
  }
}

TEST(BackoffTest, QuickCapNeverExceedsTheMaximum) {
  Backoff b(milliseconds(100), milliseconds(800), milliseconds(5000), 1);
  EXPECT_EQ(b.CapFor(20, FailureKind::kRefused), milliseconds(800));
  EXPECT_EQ(b.CapFor(20, FailureKind::kUnreachable), milliseconds(800));
}

TEST(BackoffTest, JitterStaysWithinBoundsAndSpreads) {
  Backoff b = Make(42);
  for (int attempt : {0, 1, 3, 8}) {
    for (FailureKind k : {FailureKind::kRefused, FailureKind::kUnreachable}) {
      const milliseconds lo(250);
      const milliseconds hi = b.CapFor(attempt, k);
      milliseconds min = milliseconds::max(), max = milliseconds::zero();
      for (int i = 0; i < 2000; ++i) {
        milliseconds d = b.Next(attempt, k);
        ASSERT_GE(d, lo) << "attempt " << attempt;
        ASSERT_LE(d, hi) << "attempt " << attempt;
        min = std::min(min, d);
        max = std::max(max, d);
      }
      // Full jitter: the whole range is used (for a range this wide,
      // 2000 draws reach within 5% of both ends).
      const auto span = hi - lo;
      EXPECT_LE(min - lo, span / 20) << "attempt " << attempt;
      EXPECT_LE(hi - max, span / 20) << "attempt " << attempt;
    }
  }
}

TEST(BackoffTest, SameSeedSameDelaysDifferentSeedDifferentDelays) {
  Backoff a = Make(7), b = Make(7), c = Make(8);
  std::vector<milliseconds> da, db, dc;
  for (int i = 0; i < 20; ++i) {
    da.push_back(a.Next(6, FailureKind::kUnreachable));
    db.push_back(b.Next(6, FailureKind::kUnreachable));
    dc.push_back(c.Next(6, FailureKind::kUnreachable));
  }
  EXPECT_EQ(da, db);
  EXPECT_NE(da, dc);
}

}  // namespace
}  // namespace reitunnel::client
