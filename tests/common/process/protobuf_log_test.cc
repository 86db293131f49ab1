#include "common/process/protobuf_log.h"

#include <string>

#include "common/log/log.h"
#include "common/process/startup.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reitunnel/config/v1/common.pb.h"
#include "reitunnel/wire/v1/wire.pb.h"

namespace reitunnel::process {
namespace {

using ::testing::MatchesRegex;

// A Frame whose tunnel_opened.name holds bytes that are not UTF-8: what a
// misbehaving peer can send, and what makes libprotobuf log an error.
constexpr char kBadFrame[] = "\x3a\x05\x0a\x03\xff\xfe\xfd";

std::string StderrOfBadParse() {
  ::testing::internal::CaptureStderr();
  wire::v1::Frame frame;
  EXPECT_FALSE(frame.ParseFromArray(kBadFrame, sizeof(kBadFrame) - 1));
  return ::testing::internal::GetCapturedStderr();
}

TEST(ProtobufLogTest, SetupRoutesProtobufErrorsAsOneJsonLine) {
  config::v1::LogConfig cfg;
  cfg.set_level("info");
  cfg.set_format("json");
  process::Setup(cfg);
  EXPECT_THAT(StderrOfBadParse(),
              MatchesRegex("\\{\"ts\":\"[^\"]+\",\"level\":\"error\",\"event\":\"protobuf\","
                           "\"msg\":\"String field 'reitunnel.wire.v1.TunnelOpened.name' "
                           "contains invalid UTF-8 data[^\n]*\",\"file\":\"wire_format_lite.cc\","
                           "\"line\":[0-9]+\\}\n"));
}

TEST(ProtobufLogTest, TextFormatToo) {
  log::Configure(log::Level::kInfo, log::Format::kText);
  RouteProtobufLogs();
  EXPECT_THAT(StderrOfBadParse(),
              MatchesRegex("[0-9T:.-]+Z ERROR String field [^\n]* file=wire_format_lite.cc "
                           "line=[0-9]+\n"));
}

}  // namespace
}  // namespace reitunnel::process
