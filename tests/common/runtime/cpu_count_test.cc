#include "common/runtime/cpu_count.h"

#include <thread>

#include "gtest/gtest.h"

namespace reitunnel::runtime {
namespace {

TEST(UsableCpuCountTest, AffinityAloneWhenThereIsNoQuota) {
  EXPECT_EQ(UsableCpuCountFrom(8, "", "", ""), 8);
  EXPECT_EQ(UsableCpuCountFrom(8, "max 100000\n", "", ""), 8);
  EXPECT_EQ(UsableCpuCountFrom(8, "", "-1", "100000"), 8);  // v1: no limit
}

TEST(UsableCpuCountTest, CgroupV2QuotaRoundsUpAndCapsTheAffinity) {
  EXPECT_EQ(UsableCpuCountFrom(64, "400000 100000\n", "", ""), 4);
  EXPECT_EQ(UsableCpuCountFrom(64, "150000 100000", "", ""), 2);
  EXPECT_EQ(UsableCpuCountFrom(64, "50000 100000", "", ""), 1);
  // A quota larger than the mask does not add CPUs.
  EXPECT_EQ(UsableCpuCountFrom(2, "800000 100000", "", ""), 2);
}

TEST(UsableCpuCountTest, CgroupV1Quota) {
  EXPECT_EQ(UsableCpuCountFrom(16, "", "300000\n", "100000\n"), 3);
  EXPECT_EQ(UsableCpuCountFrom(16, "", "250000", "100000"), 3);
  // Quota without a period (or the other way round): no limit known.
  EXPECT_EQ(UsableCpuCountFrom(16, "", "300000", ""), 16);
  EXPECT_EQ(UsableCpuCountFrom(16, "", "", "100000"), 16);
}

TEST(UsableCpuCountTest, CgroupV2WinsOverV1) {
  EXPECT_EQ(UsableCpuCountFrom(16, "max 100000", "100000", "100000"), 16);
  EXPECT_EQ(UsableCpuCountFrom(16, "200000 100000", "800000", "100000"), 2);
}

TEST(UsableCpuCountTest, UnknownOrMalformedInputsStillGiveAtLeastOne) {
  EXPECT_EQ(UsableCpuCountFrom(0, "", "", ""), 1);
  EXPECT_EQ(UsableCpuCountFrom(0, "300000 100000", "", ""), 3);
  EXPECT_EQ(UsableCpuCountFrom(-3, "", "", ""), 1);
  EXPECT_EQ(UsableCpuCountFrom(4, "garbage", "", ""), 4);
  EXPECT_EQ(UsableCpuCountFrom(4, "100000 0", "", ""), 4);
  EXPECT_EQ(UsableCpuCountFrom(4, "100000", "", ""), 4);
  EXPECT_EQ(UsableCpuCountFrom(4, nullptr, nullptr, nullptr), 4);
}

TEST(UsableCpuCountTest, ThisProcess) {
  int n = UsableCpuCount();
  EXPECT_GE(n, 1);
  unsigned hw = std::thread::hardware_concurrency();
  if (hw > 0) {
    EXPECT_LE(n, static_cast<int>(hw));
  }
}

}  // namespace
}  // namespace reitunnel::runtime
