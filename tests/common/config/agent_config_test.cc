#include "common/config/agent_config.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/config/test_util.h"

namespace reitunnel::config {
namespace {

using reitunnel::config::v1::AgentConfig;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "Tok3n-s3cr3t";

class AgentConfigTest : public ::testing::Test {
 protected:
  std::string Error(const std::vector<std::string>& args) {
    absl::StatusOr<AgentConfig> cfg = LoadAgentConfig(args);
    EXPECT_FALSE(cfg.ok());
    EXPECT_EQ(cfg.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string msg(cfg.status().message());
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
    return msg;
  }

  // Minimal valid flags plus `extra`.
  static std::vector<std::string> With(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--server=127.0.0.1:7000", "--token=t",
                                     "--tunnel=web=0:127.0.0.1:8080"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  testing::ScopedEnv no_env_token_{"REITUNNEL_TOKEN", std::nullopt};
  testing::TempDir dir_;
};

TEST_F(AgentConfigTest, RoutedTunnelsInAFile) {
  const std::string hash(64, 'a');
  const std::string file = dir_.Write(
      "agent2.yaml", absl::StrCat("server: a:1\ntoken: t\ntunnels:\n"
                                  "  - {name: site, kind: http, hostname: \"*.example.com\", "
                                  "local_addr: \"127.0.0.1:80\", http: {basic_auth_user: alice, "
                                  "basic_auth_password_sha256: \"",
                                  hash, "\"}}\n"
                                  "  - {name: tls, kind: tls, hostname: secure.example.com, "
                                  "local_addr: \"127.0.0.1:443\"}\n"
                                  "  - {name: plain, kind: tcp, local_addr: \"127.0.0.1:22\"}\n"));
  absl::StatusOr<AgentConfig> cfg = LoadAgentConfig({"--config=" + file});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  ASSERT_EQ(cfg->tunnels_size(), 3);
  EXPECT_EQ(cfg->tunnels(0).kind(), "http");
  EXPECT_TRUE(cfg->tunnels(0).http().x_forwarded());  // the default, filled in
  EXPECT_EQ(cfg->tunnels(1).kind(), "tls");
  EXPECT_FALSE(cfg->tunnels(1).has_http());
  EXPECT_EQ(cfg->tunnels(2).kind(), "");  // "tcp" is the default

  auto error_of = [&](const std::string& tunnel) {
    const std::string f = dir_.Write(
        "bad.yaml", absl::StrCat("server: a:1\ntoken: t\ntunnels:\n  - ", tunnel, "\n"));
    absl::StatusOr<AgentConfig> c = LoadAgentConfig({"--config=" + f});
    EXPECT_FALSE(c.ok()) << tunnel;
    return std::string(c.status().message());
  };
  EXPECT_THAT(error_of("{name: s, kind: http, local_addr: \"h:1\"}"),
              HasSubstr("tunnels[0].hostname: missing"));
  EXPECT_THAT(error_of("{name: s, kind: http, hostname: a.b, remote_port: 80, local_addr: \"h:1\"}"),
              HasSubstr("must be 0 for http tunnels"));
  EXPECT_THAT(error_of("{name: s, hostname: a.b, local_addr: \"h:1\"}"),
              HasSubstr("only http and tls tunnels have a hostname"));
  EXPECT_THAT(error_of("{name: s, kind: gopher, local_addr: \"h:1\"}"),
              HasSubstr("expected tcp, udp, http or tls"));
  EXPECT_THAT(error_of("{name: s, kind: tls, hostname: a.b, local_addr: \"h:1\", "
                       "http: {basic_auth_user: u, basic_auth_password: p}}"),
              HasSubstr("only for http tunnels"));
  EXPECT_THAT(error_of("{name: s, kind: http, hostname: a.b, local_addr: \"h:1\", "
                       "http: {basic_auth_user: u}}"),
              HasSubstr("exactly one of"));
  EXPECT_THAT(error_of("{name: s, kind: http, hostname: a.b, local_addr: \"h:1\", "
                       "http: {basic_auth_user: u, basic_auth_password_sha256: xyz}}"),
              HasSubstr("expected 64 hex digits"));
}

TEST_F(AgentConfigTest, ProductCommandLine) {
  absl::StatusOr<AgentConfig> cfg =
      LoadAgentConfig({"--server=127.0.0.1:7000", "--token=SECRET",
                       "--tunnel=web=20080:127.0.0.1:8080", "--tunnel=db=0:[::1]:5432"});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->server(), "127.0.0.1:7000");
  EXPECT_EQ(cfg->token(), "SECRET");
  ASSERT_EQ(cfg->tunnels_size(), 2);
  EXPECT_EQ(cfg->tunnels(0).name(), "web");
  EXPECT_EQ(cfg->tunnels(0).remote_port(), 20080u);
  EXPECT_EQ(cfg->tunnels(0).local_addr(), "127.0.0.1:8080");
  EXPECT_EQ(cfg->tunnels(1).name(), "db");
  EXPECT_EQ(cfg->tunnels(1).remote_port(), 0u);
  EXPECT_EQ(cfg->tunnels(1).local_addr(), "[::1]:5432");
}

TEST_F(AgentConfigTest, FillsEveryDefault) {
  absl::StatusOr<AgentConfig> cfg = LoadAgentConfig(With({}));
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->reconnect().initial_backoff_ms(), 500u);
  EXPECT_EQ(cfg->reconnect().max_backoff_ms(), 30000u);
  EXPECT_EQ(cfg->connect_timeout_ms(), 5000u);
  EXPECT_EQ(cfg->log().level(), "info");
  EXPECT_EQ(cfg->log().format(), "text");
  EXPECT_FALSE(cfg->tls().enabled());
  EXPECT_EQ(cfg->tls().server_name(), "");  // only defaulted when TLS is on
  EXPECT_TRUE(cfg->labels().empty());
}

TEST_F(AgentConfigTest, LoadsFullConfigFile) {
  const std::string path = dir_.Write("agent.yaml", R"(
server: tunnels.example.com:7000
token: filetoken
tunnels:
  - name: web
    remote_port: 20080
    local_addr: 127.0.0.1:8080
  - name: ssh
    local_addr: localhost:22
labels:
  team: infra
  app.kubernetes.io/name: web
tls:
  enabled: true
  ca_file: ca.pem
  cert_file: c.pem
  key_file: k.pem
reconnect: {initial_backoff_ms: 100, max_backoff_ms: 1000}
log: {level: error, format: json}
connect_timeout_ms: 250
)");
  absl::StatusOr<AgentConfig> cfg = LoadAgentConfig({"--config", path});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->server(), "tunnels.example.com:7000");
  EXPECT_EQ(cfg->token(), "filetoken");
  ASSERT_EQ(cfg->tunnels_size(), 2);
  EXPECT_EQ(cfg->tunnels(1).name(), "ssh");
  EXPECT_EQ(cfg->tunnels(1).remote_port(), 0u);
  EXPECT_EQ(cfg->labels().at("app.kubernetes.io/name"), "web");
  EXPECT_TRUE(cfg->tls().enabled());
  EXPECT_EQ(cfg->tls().ca_file(), "ca.pem");
  EXPECT_EQ(cfg->tls().server_name(), "tunnels.example.com");
  EXPECT_EQ(cfg->reconnect().initial_backoff_ms(), 100u);
  EXPECT_EQ(cfg->reconnect().max_backoff_ms(), 1000u);
  EXPECT_EQ(cfg->log().level(), "error");
  EXPECT_EQ(cfg->log().format(), "json");
  EXPECT_EQ(cfg->connect_timeout_ms(), 250u);
}

TEST_F(AgentConfigTest, FlagsOverrideFile) {
  const std::string path = dir_.Write("agent.yaml", R"(
server: a.example:1
token: filetoken
tunnels: [{name: web, local_addr: h:1}]
log: {level: error, format: json}
tls: {enabled: true, server_name: file.example}
)");
  absl::StatusOr<AgentConfig> cfg =
      LoadAgentConfig({"--config=" + path, "--server=b.example:2", "--token=flagtoken",
                       "--log-level=debug", "--log-format=text", "--tls-server-name=flag.example"});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->server(), "b.example:2");
  EXPECT_EQ(cfg->token(), "flagtoken");
  EXPECT_EQ(cfg->log().level(), "debug");
  EXPECT_EQ(cfg->log().format(), "text");
  EXPECT_EQ(cfg->tls().server_name(), "flag.example");
  ASSERT_EQ(cfg->tunnels_size(), 1);  // no --tunnel: the file's stay
  EXPECT_EQ(cfg->tunnels(0).name(), "web");
}

TEST_F(AgentConfigTest, TunnelFlagsReplaceFileTunnels) {
  const std::string path = dir_.Write("agent.yaml", R"(
server: a.example:1
token: t
tunnels:
  - {name: web, local_addr: h:1}
  - {name: db, local_addr: h:2}
)");
  absl::StatusOr<AgentConfig> cfg =
      LoadAgentConfig({"--config=" + path, "--tunnel=api=9000:127.0.0.1:9000"});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  ASSERT_EQ(cfg->tunnels_size(), 1);
  EXPECT_EQ(cfg->tunnels(0).name(), "api");
  EXPECT_EQ(cfg->tunnels(0).remote_port(), 9000u);
}

TEST_F(AgentConfigTest, FlagTunnelsIgnoreBrokenFileTunnels) {
  const std::string path =
      dir_.Write("agent.yaml", "server: a:1\ntoken: t\ntunnels: [{name: 'bad name'}]\n");
  EXPECT_EQ(Error({"--config=" + path}),
            path +
                ": tunnels[0].name: invalid tunnel name (1-64 characters from A-Z a-z 0-9 _ . "
                "-)");
  EXPECT_TRUE(LoadAgentConfig({"--config=" + path, "--tunnel=ok=0:h:1"}).ok());
}

TEST_F(AgentConfigTest, LabelFlagsMergeOverFileLabels) {
  const std::string path = dir_.Write("agent.yaml", R"(
server: a:1
token: t
tunnels: [{name: web, local_addr: h:1}]
labels: {team: infra, env: prod}
)");
  absl::StatusOr<AgentConfig> cfg =
      LoadAgentConfig({"--config=" + path, "--label=env=staging", "--label", "owner=ann=b"});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->labels().size(), 3u);
  EXPECT_EQ(cfg->labels().at("team"), "infra");
  EXPECT_EQ(cfg->labels().at("env"), "staging");
  EXPECT_EQ(cfg->labels().at("owner"), "ann=b");
}

TEST_F(AgentConfigTest, LabelErrors) {
  EXPECT_EQ(Error(With({"--label=team"})), "--label: expected KEY=VALUE");
  EXPECT_THAT(Error(With({"--label==x"})), HasSubstr("--label: invalid label key"));
  EXPECT_EQ(Error(With({"--label=a=1", "--label=a=2"})), "--label: key \"a\" given more than once");
  // The Hello frame carries labels in proto3 strings, which must be UTF-8.
  EXPECT_EQ(Error(With({"--label=a=\xff\xfe"})),
            "--label=a=...: the value is not valid UTF-8 text");
  EXPECT_TRUE(LoadAgentConfig(With({"--label=a=caf\xc3\xa9"})).ok());
  const std::string path =
      dir_.Write("agent.yaml",
                 "server: a:1\ntoken: t\ntunnels: [{name: w, local_addr: h:1}]\n"
                 "labels: {'bad key': x}\n");
  EXPECT_THAT(Error({"--config=" + path}), HasSubstr(path + ": labels.bad key: invalid label key"));
  // A key is echoed escaped: the error stays one line (found by
  // config_agent_yaml_fuzzer).
  const std::string newline =
      dir_.Write("newline.yaml",
                 "server: a:1\ntoken: t\ntunnels: [{name: w, local_addr: h:1}]\n"
                 "labels: {\"bad\\nkey\": x}\n");
  EXPECT_THAT(Error({"--config=" + newline}),
              HasSubstr(newline + ": labels.bad\\nkey: invalid label key"));
  EXPECT_EQ(Error({"--config=" + newline}).find('\n'), std::string::npos);
}

TEST_F(AgentConfigTest, RequiredSettings) {
  EXPECT_EQ(Error({"--token=t", "--tunnel=web=0:h:1"}),
            "missing --server (or server: in the config file)");
  EXPECT_EQ(Error({"--server=h:1", "--tunnel=web=0:h:1"}),
            "missing --token (or token: in the config file, or REITUNNEL_TOKEN)");
  EXPECT_EQ(Error({"--server=h:1", "--token=t"}),
            "no tunnels: add --tunnel=NAME=REMOTE_PORT:LOCAL_HOST:LOCAL_PORT (or tunnels: in the "
            "config file)");
}

TEST_F(AgentConfigTest, ServerAddressValidation) {
  EXPECT_EQ(Error({"--server=h", "--token=t", "--tunnel=w=0:h:1"}),
            "--server=\"h\": missing port (expected HOST:PORT)");
  EXPECT_EQ(Error({"--server=h:0", "--token=t", "--tunnel=w=0:h:1"}),
            "--server=\"h:0\": port must be a number from 1 to 65535");
  const std::string path =
      dir_.Write("agent.yaml", "server: '[::1'\ntoken: t\ntunnels: [{name: w, local_addr: h:1}]\n");
  EXPECT_EQ(Error({"--config=" + path}), path + ": server: missing ']' after IPv6 address");
}

TEST_F(AgentConfigTest, TunnelFlagErrors) {
  EXPECT_EQ(Error(With({"--tunnel=web=1:h:2"})), "--tunnel=\"web=1:h:2\": duplicate tunnel name");
  EXPECT_EQ(Error(With({"--tunnel=api=1:h:0"})),
            "--tunnel=\"api=1:h:0\": local address: port must be from 1 to 65535");
  EXPECT_THAT(
      Error(With({"--tunnel=api=70000:h:1"})),
      HasSubstr("--tunnel=\"api=70000:h:1\": remote port must be a number from 0 to 65535"));
}

TEST_F(AgentConfigTest, FileTunnelErrorsNameTheirPath) {
  auto error_for = [this](const std::string& tunnels) {
    const std::string path =
        dir_.Write("agent.yaml", "server: a:1\ntoken: t\ntunnels:\n" + tunnels);
    std::string err = Error({"--config=" + path});
    EXPECT_EQ(err.rfind(path + ": ", 0), 0u) << err;
    return err.substr(path.size() + 2);
  };
  EXPECT_EQ(error_for("  - {local_addr: h:1}\n"), "tunnels[0].name: missing");
  EXPECT_EQ(error_for("  - {name: a, local_addr: h:1}\n  - {name: b}\n"),
            "tunnels[1].local_addr: missing");
  EXPECT_EQ(error_for("  - {name: a, local_addr: h:0}\n"),
            "tunnels[0].local_addr: port must be from 1 to 65535");
  EXPECT_EQ(error_for("  - {name: a, local_addr: 'h:1:2'}\n"),
            "tunnels[0].local_addr: IPv6 addresses need brackets (expected [IPV6]:PORT, e.g. "
            "[::1]:7000)");
  EXPECT_EQ(error_for("  - {name: a, remote_port: 70000, local_addr: h:1}\n"),
            "tunnels[0].remote_port: 70000 is not a port (expected 0-65535)");
  EXPECT_EQ(error_for("  - {name: a, remote_port: -1, local_addr: h:1}\n"),
            "tunnels[0].remote_port: expected an unsigned integer");
  EXPECT_EQ(error_for("  - {name: a, local_addr: h:1}\n  - {name: a, local_addr: h:2}\n"),
            "tunnels[1].name: duplicate tunnel name (also tunnels[0])");
  EXPECT_EQ(error_for("  - {name: a, lcoal_addr: h:1}\n"), "tunnels[0].lcoal_addr: unknown key");
}

TEST_F(AgentConfigTest, TlsFlags) {
  absl::StatusOr<AgentConfig> cfg =
      LoadAgentConfig(With({"--tls", "--tls-ca=ca.pem", "--tls-cert=c.pem", "--tls-key=k.pem"}));
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_TRUE(cfg->tls().enabled());
  EXPECT_EQ(cfg->tls().ca_file(), "ca.pem");
  EXPECT_EQ(cfg->tls().cert_file(), "c.pem");
  EXPECT_EQ(cfg->tls().key_file(), "k.pem");
  EXPECT_EQ(cfg->tls().server_name(), "127.0.0.1");

  cfg = LoadAgentConfig({"--server=[::1]:7000", "--token=t", "--tunnel=w=0:h:1", "--tls"});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->tls().server_name(), "::1");
}

TEST_F(AgentConfigTest, TlsFlagTurnsFileTlsOff) {
  const std::string path = dir_.Write(
      "agent.yaml",
      "server: a:1\ntoken: t\ntunnels: [{name: w, local_addr: h:1}]\ntls: {enabled: true}\n");
  absl::StatusOr<AgentConfig> cfg = LoadAgentConfig({"--config=" + path, "--tls=false"});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_FALSE(cfg->tls().enabled());
}

TEST_F(AgentConfigTest, TlsSettingsWithoutTlsAreRejected) {
  EXPECT_EQ(Error(With({"--tls-ca=ca.pem"})),
            "--tls-ca is set but TLS is off: add --tls (or tls.enabled: true in the config file)");
  EXPECT_EQ(Error(With({"--tls=false", "--tls-server-name=x"})),
            "--tls-server-name is set but TLS is off: add --tls (or tls.enabled: true in the "
            "config file)");
  const std::string path = dir_.Write(
      "agent.yaml",
      "server: a:1\ntoken: t\ntunnels: [{name: w, local_addr: h:1}]\ntls: {cert_file: c}\n");
  EXPECT_EQ(Error({"--config=" + path}),
            "tls.cert_file is set but TLS is off: add --tls (or tls.enabled: true in the config "
            "file)");
}

TEST_F(AgentConfigTest, TlsPairs) {
  EXPECT_EQ(Error(With({"--tls", "--tls-cert=c.pem"})),
            "missing --tls-key (or tls.key_file in the config file), needed with --tls-cert");
  EXPECT_EQ(Error(With({"--tls", "--tls-key=k.pem"})),
            "missing --tls-cert (or tls.cert_file in the config file), needed with --tls-key");
}

TEST_F(AgentConfigTest, LogAndReconnectValidation) {
  EXPECT_EQ(Error(With({"--log-level=trace"})),
            "--log-level=\"trace\": unknown log level (expected debug, info, warn or error)");
  const std::string path =
      dir_.Write("agent.yaml",
                 "server: a:1\ntoken: t\ntunnels: [{name: w, local_addr: h:1}]\n"
                 "reconnect: {initial_backoff_ms: 60000}\n");
  EXPECT_EQ(Error({"--config=" + path}),
            path +
                ": reconnect.initial_backoff_ms: 60000 is above reconnect.max_backoff_ms "
                "(30000)");
}

TEST_F(AgentConfigTest, TokenPrecedenceFlagEnvFile) {
  const std::string path = dir_.Write(
      "agent.yaml", "server: a:1\ntoken: filetoken\ntunnels: [{name: w, local_addr: h:1}]\n");
  absl::StatusOr<AgentConfig> cfg = LoadAgentConfig({"--config=" + path});
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->token(), "filetoken");
  testing::ScopedEnv env("REITUNNEL_TOKEN", "envtoken");
  cfg = LoadAgentConfig({"--config=" + path});
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->token(), "envtoken");
  cfg = LoadAgentConfig({"--config=" + path, "--token=flagtoken"});
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->token(), "flagtoken");
  cfg = LoadAgentConfig({"--server=a:1", "--tunnel=w=0:h:1"});
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->token(), "envtoken");
}

TEST_F(AgentConfigTest, TokenNeverAppearsInErrors) {
  const std::string s = kSecret;
  std::vector<std::vector<std::string>> cases = {
      {"--server=bad", "--token=" + s, "--tunnel=w=0:h:1"},
      {"--server=a:1", "--token=" + s},
      {"--server=a:1", "--token=", s},
      {"--server=a:1", "--token", s, "--token=" + s},
      {"--tokn=" + s},
      {"--server=a:1", "--token=" + s, "--tunnel=w=0:h:1", "--tls=" + s},
      {"--server=a:1", "--token=" + s, "--tunnel=w=0:h:1", "--label=" + s},
  };
  const std::vector<std::string> files = {
      "token: [" + s + "]\n",
      "token: {" + s + ": x}\n",
      "token: '" + s + "\n",
      "token: " + s + "\nserver: " + s + "\n",
      "token: " + s + "\nserver: a:1\ntunnels: [{name: w, local_addr: " + s + "}]\n",
      "token: " + s + "\nserver: a:1\ntunnels: [{name: w, local_addr: h:1}]\nlabels: {a: [" + s +
          "]}\n",
      "token: " + s + "\nconnect_timeout_ms: " + s + "\n",
      "tls: {enabled: " + s + "}\n",
  };
  for (std::size_t i = 0; i < files.size(); ++i) {
    cases.push_back({"--config=" + dir_.Write("f" + std::to_string(i) + ".yaml", files[i])});
  }
  for (const auto& args : cases) {
    const std::string err = Error(args);
    EXPECT_THAT(err, Not(HasSubstr(kSecret))) << "args[0]=" << args[0];
    EXPECT_THAT(err, Not(HasSubstr("s3cr3t"))) << "args[0]=" << args[0];
  }
}

TEST_F(AgentConfigTest, UsageListsEveryFlag) {
  const std::string usage = AgentUsage();
  for (const char* flag :
       {"--config=FILE", "--server=ADDRESS", "--token=SECRET", "--agent-id=NAME", "--proxy=URL",
        "--workers=N",
        "--tunnel=NAME=REMOTE_PORT:LOCAL_HOST:LOCAL_PORT", "--label=KEY=VALUE", "--log-level=LEVEL",
        "--log-format=FORMAT", "--tls ", "--tls-ca=FILE", "--tls-cert=FILE", "--tls-key=FILE",
        "--tls-server-name=NAME", "--help", "--version", "REITUNNEL_TOKEN"}) {
    EXPECT_THAT(usage, HasSubstr(flag));
  }
  EXPECT_EQ(usage.rfind("Usage: reitunnel ", 0), 0u);
}

TEST_F(AgentConfigTest, UsageListsEveryEnvironmentVariableAndTheExitCodes) {
  const std::string usage = AgentUsage();
  // ProxyEnvFromProcess() reads these (common/transport/http_proxy).
  for (const char* var : {"REITUNNEL_TOKEN", "http_proxy", "HTTP_PROXY", "https_proxy",
                          "HTTPS_PROXY", "ws_proxy", "WS_PROXY", "wss_proxy", "WSS_PROXY",
                          "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY", "REQUEST_METHOD"}) {
    EXPECT_THAT(usage, ::testing::ContainsRegex(absl::StrCat("(^|[ ,])", var, "[ ,\n]"))) << var;
  }
  EXPECT_THAT(usage, HasSubstr("Exit codes: 0"));
  for (absl::string_view line : absl::StrSplit(usage, '\n')) {
    EXPECT_LE(line.size(), 80u) << line;
  }
}

}  // namespace
}  // namespace reitunnel::config
