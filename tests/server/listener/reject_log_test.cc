#include "server/listener/reject_log.h"

#include <string>

#include "common/log/log.h"
#include "gtest/gtest.h"

namespace reitunnel::server {
namespace {

using namespace std::chrono_literals;

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

class RejectLogTest : public ::testing::Test {
 protected:
  void SetUp() override { log::Configure(log::Level::kInfo, log::Format::kJson); }
  void TearDown() override { log::Configure(log::Level::kInfo, log::Format::kText); }
};

TEST_F(RejectLogTest, FirstRejectionIsLoggedTheRestAreSummarized) {
  RejectLog rl(std::chrono::hours(1));
  ::testing::internal::CaptureStderr();
  EXPECT_TRUE(rl.Record("10.0.0.1", "10.0.0.1:1000", "handshake limit"));
  for (int i = 0; i < 4; ++i) {
    EXPECT_FALSE(rl.Record("10.0.0.1", "10.0.0.1:" + std::to_string(1001 + i), "handshake limit"));
  }
  // Another reason, or another source, is its own line.
  EXPECT_TRUE(rl.Record("10.0.0.1", "10.0.0.1:2000", "auth throttled", /*level_warn=*/false));
  EXPECT_TRUE(rl.Record("10.0.0.2", "10.0.0.2:1000", "handshake limit"));
  rl.Flush();  // the interval has not ended: nothing yet
  std::string during = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(Count(during, "\"event\":\"connection_rejected\""), 3u) << during;
  EXPECT_EQ(Count(during, "connections_rejected"), 0u) << during;
  EXPECT_NE(during.find("\"level\":\"info\""), std::string::npos) << during;
  EXPECT_EQ(rl.total(), 7u);

  ::testing::internal::CaptureStderr();
  rl.Flush(/*force=*/true);
  std::string summary = ::testing::internal::GetCapturedStderr();
  // Only the key with suppressed rejections gets a summary.
  EXPECT_EQ(Count(summary, "\"event\":\"connections_rejected\""), 1u) << summary;
  EXPECT_NE(summary.find("\"remote_addr\":\"10.0.0.1\""), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"reason\":\"handshake limit\""), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"count\":4"), std::string::npos) << summary;
  // Aggregated on the source, never the peer's port.
  EXPECT_EQ(summary.find("10.0.0.1:"), std::string::npos) << summary;

  // A new interval starts with a logged line again.
  ::testing::internal::CaptureStderr();
  EXPECT_TRUE(rl.Record("10.0.0.1", "10.0.0.1:3000", "handshake limit"));
  ::testing::internal::GetCapturedStderr();
}

TEST_F(RejectLogTest, IntervalEndingFlushesWithoutForce) {
  RejectLog rl(0ms);
  ::testing::internal::CaptureStderr();
  rl.Record("10.0.0.1", "10.0.0.1:1", "r");
  rl.Record("10.0.0.1", "10.0.0.1:2", "r");
  rl.Flush();
  std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(Count(out, "\"event\":\"connections_rejected\""), 1u) << out;
  EXPECT_NE(out.find("\"count\":1"), std::string::npos) << out;
}

TEST_F(RejectLogTest, TooManySourcesAreCountedInOneLine) {
  RejectLog rl(std::chrono::hours(1), /*max_sources=*/2);
  ::testing::internal::CaptureStderr();
  EXPECT_TRUE(rl.Record("a", "a:1", "r"));
  EXPECT_TRUE(rl.Record("b", "b:1", "r"));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(rl.Record("c" + std::to_string(i), "c:1", "r"));
  rl.Flush(true);
  std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(Count(out, "\"event\":\"connection_rejected\""), 2u) << out;
  EXPECT_NE(out.find("\"remote_addr\":\"*\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"count\":5"), std::string::npos) << out;
  EXPECT_EQ(rl.total(), 7u);
}

TEST_F(RejectLogTest, DebugLevelLogsEveryRejectionWithItsPeer) {
  log::Configure(log::Level::kDebug, log::Format::kJson);
  RejectLog rl(std::chrono::hours(1));
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(rl.Record("10.0.0.1", "10.0.0.1:7" + std::to_string(i), "r"));
  std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(Count(out, "\"event\":\"connection_rejected\""), 3u) << out;
  EXPECT_NE(out.find("10.0.0.1:72"), std::string::npos) << out;
}

}  // namespace
}  // namespace reitunnel::server
