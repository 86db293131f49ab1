#include "common/process/grpc_log.h"

#include <stdlib.h>

#include <string>

#include "common/log/log.h"
#include "gmock/gmock.h"
#include "grpc/support/log.h"
#include "gtest/gtest.h"

namespace reitunnel::process {
namespace {

using ::testing::ExitedWithCode;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// gRPC reads GRPC_VERBOSITY once per process, so each case runs in a fresh
// one (a death test re-executing this binary) and is judged on exactly what
// it wrote to stderr.
class GrpcLogTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// Sets the environment, configures the logger and the routing, then logs.
template <typename F>
void Child(const char* verbosity, log::Level level, log::Format format, F emit) {
  if (verbosity == nullptr) {
    ::unsetenv("GRPC_VERBOSITY");
  } else {
    ::setenv("GRPC_VERBOSITY", verbosity, 1);
  }
  log::Configure(level, format);
  RouteGrpcLogs();
  emit();
  std::exit(0);
}

TEST_F(GrpcLogTest, ErrorBecomesOneJsonLine) {
  EXPECT_EXIT(Child(nullptr, log::Level::kInfo, log::Format::kJson,
                    [] { gpr_log(GPR_ERROR, "Handshake failed with %s", "x"); }),
              ExitedWithCode(0),
              MatchesRegex("\\{\"ts\":\"[^\"]+\",\"level\":\"error\",\"event\":\"grpc_core\","
                           "\"msg\":\"Handshake failed with x\",\"file\":\"grpc_log_test.cc\","
                           "\"line\":[0-9]+\\}\n"));
}

TEST_F(GrpcLogTest, KeepsTheLineNumber) {
  const int line = __LINE__ + 2;
  EXPECT_EXIT(Child(nullptr, log::Level::kInfo, log::Format::kJson,
                    [] { gpr_log(GPR_ERROR, "x"); }),
              ExitedWithCode(0), HasSubstr("\"line\":" + std::to_string(line) + "}"));
}

TEST_F(GrpcLogTest, TextFormatToo) {
  EXPECT_EXIT(Child(nullptr, log::Level::kInfo, log::Format::kText,
                    [] { gpr_log(GPR_ERROR, "connect failed\n"); }),
              ExitedWithCode(0),
              MatchesRegex("[0-9T:.-]+Z ERROR connect failed file=grpc_log_test.cc "
                           "line=[0-9]+\n"));
}

TEST_F(GrpcLogTest, KeepsGrpcDefaultOfErrorsOnly) {
  EXPECT_EXIT(Child(nullptr, log::Level::kDebug, log::Format::kJson,
                    [] {
                      gpr_log(GPR_INFO, "info line");
                      gpr_log(GPR_DEBUG, "debug line");
                    }),
              ExitedWithCode(0), ::testing::Eq(""));
}

TEST_F(GrpcLogTest, GrpcVerbosityBringsInfoBackAsInfo) {
  EXPECT_EXIT(Child("info", log::Level::kInfo, log::Format::kJson,
                    [] {
                      gpr_log(GPR_INFO, "subchannel connected");
                      gpr_log(GPR_DEBUG, "below GRPC_VERBOSITY");
                    }),
              ExitedWithCode(0),
              MatchesRegex("\\{[^\n]*\"level\":\"info\",\"event\":\"grpc_core\","
                           "\"msg\":\"subchannel connected\"[^\n]*\\}\n"));
}

TEST_F(GrpcLogTest, LogLevelStillFilters) {
  EXPECT_EXIT(Child("debug", log::Level::kError, log::Format::kJson,
                    [] {
                      gpr_log(GPR_INFO, "filtered by --log-level");
                      gpr_log(GPR_ERROR, "kept");
                    }),
              ExitedWithCode(0), MatchesRegex("\\{[^\n]*\"msg\":\"kept\"[^\n]*\\}\n"));
}

}  // namespace
}  // namespace reitunnel::process
