// Token bounds and weak-token warnings, for reitunneld and reitunnel alike.

#include <optional>
#include <string>
#include <vector>

#include "common/config/agent_config.h"
#include "common/config/server_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/config/test_util.h"

namespace reitunnel::config {
namespace {

using reitunnel::config::v1::AgentConfig;
using reitunnel::config::v1::ServerConfig;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

// 16 bytes and more: long enough not to warn about.
constexpr char kGoodToken[] = "0123456789abcdef";

class TokenLimitsTest : public ::testing::Test {
 protected:
  std::string ServerError(const std::vector<std::string>& args) {
    absl::StatusOr<ServerConfig> cfg = LoadServerConfig(args);
    EXPECT_FALSE(cfg.ok());
    return std::string(cfg.status().message());
  }
  std::string AgentError(const std::vector<std::string>& args) {
    absl::StatusOr<AgentConfig> cfg = LoadAgentConfig(args);
    EXPECT_FALSE(cfg.ok());
    return std::string(cfg.status().message());
  }
  static std::vector<std::string> Agent(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--server=127.0.0.1:7000", "--tunnel=web=0:127.0.0.1:8080"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  static std::vector<std::string> ServerWarnings(const std::vector<std::string>& args) {
    absl::StatusOr<ServerConfig> cfg = LoadServerConfig(args);
    EXPECT_TRUE(cfg.ok()) << cfg.status();
    return cfg.ok() ? ServerConfigWarnings(*cfg) : std::vector<std::string>{};
  }
  static std::vector<std::string> AgentWarnings(const std::vector<std::string>& args) {
    absl::StatusOr<AgentConfig> cfg = LoadAgentConfig(Agent(args));
    EXPECT_TRUE(cfg.ok()) << cfg.status();
    return cfg.ok() ? AgentConfigWarnings(*cfg) : std::vector<std::string>{};
  }

  testing::ScopedEnv no_env_token_{"REITUNNEL_TOKEN", std::nullopt};
  testing::ScopedEnv no_env_admin_token_{"REITUNNEL_ADMIN_TOKEN", std::nullopt};
  testing::TempDir dir_;
};

// Repeated 'q': the messages must not contain a run of it.
const std::string kLong(1025, 'q');
const std::string kMax(1024, 'q');
constexpr char kRun[] = "qqqqqqqq";

TEST_F(TokenLimitsTest, ServerTokenOver1024BytesIsRefusedFromEverySource) {
  EXPECT_EQ(ServerError({"--token=" + kLong}), "--token: too long (1025 bytes; at most 1024)");
  {
    testing::ScopedEnv env("REITUNNEL_TOKEN", kLong);
    EXPECT_EQ(ServerError({}), "REITUNNEL_TOKEN: too long (1025 bytes; at most 1024)");
  }
  const std::string path = dir_.Write("server.yaml", "token: " + kLong + "\n");
  EXPECT_EQ(ServerError({"--config=" + path}),
            path + ": token: too long (1025 bytes; at most 1024)");
  EXPECT_TRUE(LoadServerConfig({"--token=" + kMax}).ok());
}

TEST_F(TokenLimitsTest, AdminTokenOver1024BytesIsRefusedFromEverySource) {
  // The admin token goes in gRPC metadata, whose default limit is 8 KiB: a
  // longer one would fail every reitunnelctl call with RESOURCE_EXHAUSTED.
  EXPECT_EQ(ServerError({"--token=t", "--admin-token=" + kLong}),
            "--admin-token: too long (1025 bytes; at most 1024)");
  {
    testing::ScopedEnv env("REITUNNEL_ADMIN_TOKEN", kLong);
    EXPECT_EQ(ServerError({"--token=t"}),
              "REITUNNEL_ADMIN_TOKEN: too long (1025 bytes; at most 1024)");
  }
  const std::string path = dir_.Write("server.yaml", "admin_api: {token: " + kLong + "}\n");
  EXPECT_EQ(ServerError({"--config=" + path, "--token=t"}),
            path + ": admin_api.token: too long (1025 bytes; at most 1024)");
  EXPECT_TRUE(LoadServerConfig({"--token=t", "--admin-token=" + kMax}).ok());
}

TEST_F(TokenLimitsTest, OneMebibyteAgentTokenNoLongerDefaultsTheAdminToken) {
  const std::string mib(1 << 20, 'q');
  EXPECT_EQ(ServerError({"--token=" + mib}), "--token: too long (1048576 bytes; at most 1024)");
}

TEST_F(TokenLimitsTest, AgentTokenOver1024BytesIsRefusedFromEverySource) {
  EXPECT_EQ(AgentError(Agent({"--token=" + kLong})),
            "--token: too long (1025 bytes; at most 1024)");
  {
    testing::ScopedEnv env("REITUNNEL_TOKEN", kLong);
    EXPECT_EQ(AgentError(Agent({})), "REITUNNEL_TOKEN: too long (1025 bytes; at most 1024)");
  }
  const std::string path = dir_.Write("agent.yaml", "token: " + kLong + "\n");
  EXPECT_EQ(AgentError(Agent({"--config=" + path})),
            path + ": token: too long (1025 bytes; at most 1024)");
  EXPECT_TRUE(LoadAgentConfig(Agent({"--token=" + kMax})).ok());
}

TEST_F(TokenLimitsTest, TooLongMessagesNeverContainTheToken) {
  for (const std::string& err :
       {ServerError({"--token=" + kLong}), ServerError({"--token=t", "--admin-token=" + kLong}),
        AgentError(Agent({"--token=" + kLong}))}) {
    EXPECT_THAT(err, Not(HasSubstr(kRun)));
  }
}

TEST_F(TokenLimitsTest, ShortServerTokenGetsOneWarning) {
  const std::vector<std::string> warnings = ServerWarnings({"--token=short"});
  ASSERT_THAT(warnings, SizeIs(1));
  EXPECT_EQ(warnings[0],
            "the token is only 5 bytes long: use at least 16 random bytes (e.g. openssl rand "
            "-hex 16) so that it cannot be guessed");
  EXPECT_THAT(warnings[0], Not(HasSubstr("short")));
}

TEST_F(TokenLimitsTest, WhitespaceTokenGetsOneWarning) {
  EXPECT_THAT(ServerWarnings({"--token= "}),
              ElementsAre("the token is only whitespace: use at least 16 random bytes (e.g. "
                          "openssl rand -hex 16) so that it cannot be guessed"));
  EXPECT_THAT(ServerWarnings({"--token=" + std::string(40, ' ')}), SizeIs(1));
  EXPECT_THAT(AgentWarnings({"--token=\t \t"}), SizeIs(1));
}

TEST_F(TokenLimitsTest, LongTokensGetNoWarning) {
  EXPECT_THAT(ServerWarnings({std::string("--token=") + kGoodToken}), IsEmpty());
  EXPECT_THAT(AgentWarnings({std::string("--token=") + kGoodToken}), IsEmpty());
  EXPECT_THAT(ServerWarnings({std::string("--token=") + kGoodToken,
                              std::string("--admin-token=") + kGoodToken + "x"}),
              IsEmpty());
}

TEST_F(TokenLimitsTest, AdminTokenIsJudgedOnItsOwn) {
  // Defaulting to the token: one warning about the token, not two.
  EXPECT_THAT(ServerWarnings({"--token=abc"}), SizeIs(1));
  const std::vector<std::string> warnings =
      ServerWarnings({std::string("--token=") + kGoodToken, "--admin-token=adm"});
  ASSERT_THAT(warnings, SizeIs(1));
  EXPECT_THAT(warnings[0], HasSubstr("the admin token is only 3 bytes long"));
  EXPECT_THAT(ServerWarnings({"--token=abc", "--admin-token=adm"}), SizeIs(2));
}

TEST_F(TokenLimitsTest, ShortAgentTokenGetsOneWarning) {
  const std::vector<std::string> warnings = AgentWarnings({"--token=tiny"});
  ASSERT_THAT(warnings, SizeIs(1));
  EXPECT_THAT(warnings[0], HasSubstr("the token is only 4 bytes long"));
  EXPECT_THAT(warnings[0], Not(HasSubstr("tiny")));
}

}  // namespace
}  // namespace reitunnel::config
