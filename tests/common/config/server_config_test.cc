#include "common/config/server_config.h"

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

using reitunnel::config::v1::ServerConfig;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "Tok3n-s3cr3t";

class ServerConfigTest : public ::testing::Test {
 protected:
  std::string Error(const std::vector<std::string>& args) {
    absl::StatusOr<ServerConfig> cfg = LoadServerConfig(args);
    EXPECT_FALSE(cfg.ok());
    EXPECT_EQ(cfg.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string msg(cfg.status().message());
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
    return msg;
  }

  // The runner's own REITUNNEL_TOKEN must not leak into these tests.
  testing::ScopedEnv no_env_token_{"REITUNNEL_TOKEN", std::nullopt};
  testing::TempDir dir_;
};

TEST_F(ServerConfigTest, ProductCommandLine) {
  absl::StatusOr<ServerConfig> cfg =
      LoadServerConfig({"--listen=127.0.0.1:7000", "--admin=127.0.0.1:7001", "--token=SECRET",
                        "--public-ports=20000-20100"});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->listen(), "127.0.0.1:7000");
  EXPECT_EQ(cfg->admin(), "127.0.0.1:7001");
  EXPECT_EQ(cfg->token(), "SECRET");
  EXPECT_EQ(cfg->public_ports(), "20000-20100");
  EXPECT_EQ(cfg->hooks_size(), 0);
}

TEST_F(ServerConfigTest, FillsEveryDefault) {
  absl::StatusOr<ServerConfig> cfg = LoadServerConfig({"--token", "t"});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->listen(), "0.0.0.0:7000");
  EXPECT_EQ(cfg->admin(), "127.0.0.1:7001");
  EXPECT_EQ(cfg->public_ports(), "20000-20100");
  EXPECT_EQ(cfg->public_bind_addr(), "0.0.0.0");
  EXPECT_EQ(cfg->limits().max_tunnels_per_agent(), 16u);
  EXPECT_EQ(cfg->limits().max_agents(), 1024u);
  EXPECT_EQ(cfg->limits().data_pool_size(), 4u);
  EXPECT_EQ(cfg->limits().max_visitors_per_tunnel(), 10000u);
  EXPECT_EQ(cfg->timeouts().handshake_ms(), 5000u);
  EXPECT_EQ(cfg->timeouts().heartbeat_interval_ms(), 10000u);
  EXPECT_EQ(cfg->timeouts().idle_ms(), 30000u);
  EXPECT_EQ(cfg->timeouts().data_connection_ms(), 10000u);
  EXPECT_EQ(cfg->timeouts().drain_ms(), 10000u);
  EXPECT_EQ(cfg->log().level(), "info");
  EXPECT_EQ(cfg->log().format(), "text");
  EXPECT_EQ(cfg->tls().cert_file(), "");
}

TEST_F(ServerConfigTest, LoadsFullConfigFile) {
  const std::string path = dir_.Write("server.yaml", R"(
listen: 127.0.0.1:7100
admin: "[::1]:7101"
token: filetoken
public_ports: 30000-30010
public_bind_addr: 127.0.0.1
tls:
  cert_file: /etc/reitunnel/cert.pem
  key_file: /etc/reitunnel/key.pem
  client_ca_file: /etc/reitunnel/ca.pem
limits:
  max_tunnels_per_agent: 2
  max_agents: 3
  data_pool_size: 0
  max_visitors_per_tunnel: 5
timeouts:
  handshake_ms: 100
  heartbeat_interval_ms: 200
  idle_ms: 600
  data_connection_ms: 300
  drain_ms: 400
log: {level: debug, format: json}
hooks:
  - name: policy
    address: dns:///policy.svc:50051
  - name: audit
    address: unix:///run/audit.sock
)");
  absl::StatusOr<ServerConfig> cfg = LoadServerConfig({"--config=" + path});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->listen(), "127.0.0.1:7100");
  EXPECT_EQ(cfg->admin(), "[::1]:7101");
  EXPECT_EQ(cfg->token(), "filetoken");
  EXPECT_EQ(cfg->public_ports(), "30000-30010");
  EXPECT_EQ(cfg->public_bind_addr(), "127.0.0.1");
  EXPECT_EQ(cfg->tls().client_ca_file(), "/etc/reitunnel/ca.pem");
  EXPECT_EQ(cfg->limits().max_tunnels_per_agent(), 2u);
  EXPECT_EQ(cfg->limits().data_pool_size(), 4u);  // 0 means default
  EXPECT_EQ(cfg->timeouts().drain_ms(), 400u);
  EXPECT_EQ(cfg->log().level(), "debug");
  EXPECT_EQ(cfg->log().format(), "json");
  ASSERT_EQ(cfg->hooks_size(), 2);
  EXPECT_EQ(cfg->hooks(1).name(), "audit");
  EXPECT_EQ(cfg->hooks(1).address(), "unix:///run/audit.sock");
}

TEST_F(ServerConfigTest, FlagsOverrideFile) {
  const std::string path = dir_.Write("server.yaml", R"(
listen: 127.0.0.1:7100
admin: 127.0.0.1:7101
token: filetoken
public_ports: 30000-30010
public_bind_addr: 127.0.0.1
log: {level: debug, format: json}
tls: {cert_file: a.pem, key_file: a.key}
)");
  absl::StatusOr<ServerConfig> cfg = LoadServerConfig(
      {"--config", path, "--listen=0.0.0.0:1", "--admin=0.0.0.0:2", "--token=flagtoken",
       "--public-ports=40000", "--public-bind-addr=[::]", "--log-level=warn", "--log-format=text",
       "--tls-cert=b.pem", "--tls-key=b.key", "--tls-client-ca=ca.pem"});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->listen(), "0.0.0.0:1");
  EXPECT_EQ(cfg->admin(), "0.0.0.0:2");
  EXPECT_EQ(cfg->token(), "flagtoken");
  EXPECT_EQ(cfg->public_ports(), "40000");
  EXPECT_EQ(cfg->public_bind_addr(), "::");  // brackets stripped
  EXPECT_EQ(cfg->log().level(), "warn");
  EXPECT_EQ(cfg->log().format(), "text");
  EXPECT_EQ(cfg->tls().cert_file(), "b.pem");
  EXPECT_EQ(cfg->tls().key_file(), "b.key");
  EXPECT_EQ(cfg->tls().client_ca_file(), "ca.pem");
}

TEST_F(ServerConfigTest, FlagOverridesBadFileValue) {
  const std::string path = dir_.Write("server.yaml", "listen: nonsense\ntoken: t\n");
  EXPECT_THAT(Error({"--config=" + path}), HasSubstr(path + ": listen: missing port"));
  absl::StatusOr<ServerConfig> cfg = LoadServerConfig({"--config=" + path, "--listen=h:1"});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->listen(), "h:1");
}

TEST_F(ServerConfigTest, HookFlagsAddToFileHooks) {
  const std::string path =
      dir_.Write("server.yaml", "token: t\nhooks:\n  - {name: policy, address: h:1}\n");
  absl::StatusOr<ServerConfig> cfg = LoadServerConfig(
      {"--config=" + path, "--hook=audit=127.0.0.1:50051", "--hook", "quota=unix:///q.sock"});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  ASSERT_EQ(cfg->hooks_size(), 3);
  EXPECT_EQ(cfg->hooks(0).name(), "policy");
  EXPECT_EQ(cfg->hooks(1).name(), "audit");
  EXPECT_EQ(cfg->hooks(1).address(), "127.0.0.1:50051");
  EXPECT_EQ(cfg->hooks(2).name(), "quota");
  EXPECT_EQ(cfg->hooks(2).address(), "unix:///q.sock");
}

TEST_F(ServerConfigTest, HookNamesMustBeUniqueAcrossFileAndFlags) {
  const std::string path =
      dir_.Write("server.yaml", "token: t\nhooks:\n  - {name: policy, address: h:1}\n");
  EXPECT_EQ(Error({"--config=" + path, "--hook=policy=h:2"}),
            "--hook=\"policy=h:2\": duplicate hook name (also in the config file)");
  EXPECT_EQ(Error({"--token=t", "--hook=a=h:1", "--hook=a=h:2"}),
            "--hook=\"a=h:2\": duplicate hook name (also another --hook)");
  const std::string dup = dir_.Write(
      "dup.yaml", "token: t\nhooks:\n  - {name: a, address: h:1}\n  - {name: a, address: h:2}\n");
  EXPECT_EQ(Error({"--config=" + dup}),
            dup + ": hooks[1].name: duplicate hook name (also hooks[0])");
}

TEST_F(ServerConfigTest, HookValidation) {
  EXPECT_EQ(Error({"--token=t", "--hook=policy"}),
            "--hook=\"policy\": missing '=' (expected NAME=ADDRESS)");
  EXPECT_EQ(Error({"--token=t", "--hook=p=h:0"}),
            "--hook=\"p=h:0\": hook address: port must be from 1 to 65535");
  const std::string noaddr = dir_.Write("a.yaml", "token: t\nhooks:\n  - name: p\n");
  EXPECT_EQ(Error({"--config=" + noaddr}), noaddr + ": hooks[0].address: missing");
  const std::string noname = dir_.Write("b.yaml", "token: t\nhooks:\n  - address: h:1\n");
  EXPECT_EQ(Error({"--config=" + noname}), noname + ": hooks[0].name: missing");
  const std::string badaddr =
      dir_.Write("c.yaml", "token: t\nhooks:\n  - {name: p, address: 'unix:'}\n");
  EXPECT_EQ(Error({"--config=" + badaddr}),
            badaddr + ": hooks[0].address: missing socket path after unix:");
}

TEST_F(ServerConfigTest, HookDefaultsAreFilled) {
  absl::StatusOr<ServerConfig> cfg = LoadServerConfig({"--token=t", "--hook=p=h:1"});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  const auto& hook = cfg->hooks(0);
  // Empty means "the defaults, narrowed to what the hook implements"
  // (Describe); a filled-in list would turn into a requirement.
  EXPECT_TRUE(hook.events().empty());
  EXPECT_EQ(hook.timeout_ms(), 500u);
  EXPECT_EQ(hook.failure_policy(), "fail_closed");
  EXPECT_EQ(hook.queue_size(), 4096u);
  EXPECT_FALSE(hook.tls().enabled());
  EXPECT_EQ(cfg->hook_settings().strategy(), "stop_on_error");
  EXPECT_EQ(cfg->hook_settings().flush_interval_ms(), 1000u);
  EXPECT_EQ(cfg->hook_settings().max_batch_tunnels(), 1000u);
  EXPECT_EQ(cfg->hook_settings().max_pending_batches(), 64u);
}

TEST_F(ServerConfigTest, HookDetailsFromFile) {
  const std::string path = dir_.Write("server.yaml", R"(
token: t
hooks:
  - name: policy
    address: h:1
    events: [tunnel_open, visitor_connect]
    timeout_ms: 50
    failure_policy: fail_open
    queue_size: 8
    tls: {ca_file: ca.pem, server_name: policy.internal}
hook_settings:
  strategy: collect_and_continue
  flush_interval_ms: 10
  max_batch_tunnels: 2
  max_pending_batches: 3
)");
  absl::StatusOr<ServerConfig> cfg = LoadServerConfig({"--config=" + path});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  const auto& hook = cfg->hooks(0);
  EXPECT_THAT(hook.events(), ::testing::ElementsAre("tunnel_open", "visitor_connect"));
  EXPECT_EQ(hook.timeout_ms(), 50u);
  EXPECT_EQ(hook.failure_policy(), "fail_open");
  EXPECT_EQ(hook.queue_size(), 8u);
  EXPECT_TRUE(hook.tls().enabled());  // implied by ca_file
  EXPECT_EQ(hook.tls().server_name(), "policy.internal");
  EXPECT_EQ(cfg->hook_settings().strategy(), "collect_and_continue");
  EXPECT_EQ(cfg->hook_settings().flush_interval_ms(), 10u);
  EXPECT_EQ(cfg->hook_settings().max_batch_tunnels(), 2u);
  EXPECT_EQ(cfg->hook_settings().max_pending_batches(), 3u);
}

TEST_F(ServerConfigTest, HookDetailErrorsNameTheirPath) {
  auto error_for = [this](const std::string& body) {
    const std::string path = dir_.Write("server.yaml", "token: t\n" + body);
    std::string err = Error({"--config=" + path});
    EXPECT_EQ(err.rfind(path + ": ", 0), 0u) << err;
    return err.substr(path.size() + 2);
  };
  EXPECT_THAT(error_for("hooks: [{name: p, address: 'h:1', events: [data, tunnel_opn]}]\n"),
              HasSubstr("hooks[0].events[1]: unknown hook event (expected server_start"));
  EXPECT_EQ(error_for("hooks: [{name: p, address: 'h:1', events: [data, data]}]\n"),
            "hooks[0].events[1]: event listed twice");
  EXPECT_EQ(error_for("hooks: [{name: p, address: 'h:1', failure_policy: open}]\n"),
            "hooks[0].failure_policy: unknown failure policy (expected fail_closed or fail_open)");
  EXPECT_EQ(error_for("hooks: [{name: p, address: 'h:1', tls: {cert_file: c}}]\n"),
            "hooks[0].tls.key_file: missing (needed with tls.cert_file)");
  EXPECT_EQ(error_for("hooks: [{name: p, address: 'h:1', tls: {key_file: k}}]\n"),
            "hooks[0].tls.cert_file: missing (needed with tls.key_file)");
  EXPECT_EQ(error_for("hooks: [{name: p, address: 'h:1', tls: {server_name: x}}]\n"),
            "hooks[0].tls.server_name: set but TLS is off (add tls.enabled: true)");
  EXPECT_EQ(error_for("hook_settings: {strategy: first}\n"),
            "hook_settings.strategy: unknown strategy (expected stop_on_error or "
            "collect_and_continue)");
  EXPECT_EQ(error_for("hooks: [{name: p, address: 'h:1', timeout_ms: -5}]\n"),
            "hooks[0].timeout_ms: expected an unsigned integer");
}

TEST_F(ServerConfigTest, TokenPrecedenceFlagEnvFile) {
  const std::string path = dir_.Write("server.yaml", "token: filetoken\n");
  {
    absl::StatusOr<ServerConfig> cfg = LoadServerConfig({"--config=" + path});
    ASSERT_TRUE(cfg.ok());
    EXPECT_EQ(cfg->token(), "filetoken");
  }
  testing::ScopedEnv env("REITUNNEL_TOKEN", "envtoken");
  {
    absl::StatusOr<ServerConfig> cfg = LoadServerConfig({"--config=" + path});
    ASSERT_TRUE(cfg.ok());
    EXPECT_EQ(cfg->token(), "envtoken");
  }
  {
    absl::StatusOr<ServerConfig> cfg = LoadServerConfig({});
    ASSERT_TRUE(cfg.ok());
    EXPECT_EQ(cfg->token(), "envtoken");
  }
  {
    absl::StatusOr<ServerConfig> cfg = LoadServerConfig({"--config=" + path, "--token=flag"});
    ASSERT_TRUE(cfg.ok());
    EXPECT_EQ(cfg->token(), "flag");
  }
}

TEST_F(ServerConfigTest, EmptyEnvTokenDoesNotCount) {
  testing::ScopedEnv env("REITUNNEL_TOKEN", "");
  EXPECT_EQ(Error({}), "missing --token (or token: in the config file, or REITUNNEL_TOKEN)");
}

TEST_F(ServerConfigTest, MissingToken) {
  EXPECT_EQ(Error({"--listen=127.0.0.1:7000"}),
            "missing --token (or token: in the config file, or REITUNNEL_TOKEN)");
  EXPECT_EQ(Error({"--token="}), "--token must not be empty");
}

TEST_F(ServerConfigTest, BadFlagValuesNameTheFlag) {
  EXPECT_EQ(Error({"--token=t", "--public-ports=abc"}),
            "--public-ports=\"abc\": not a port range (expected LOW-HIGH or PORT, e.g. "
            "20000-20100)");
  EXPECT_EQ(Error({"--token=t", "--public-ports=200-100"}),
            "--public-ports=\"200-100\": low port 200 is above high port 100");
  EXPECT_EQ(Error({"--token=t", "--listen=7000"}),
            "--listen=\"7000\": missing port (expected HOST:PORT)");
  EXPECT_EQ(Error({"--token=t", "--admin=::1:7001"}),
            "--admin=\"::1:7001\": IPv6 addresses need brackets (expected [IPV6]:PORT, e.g. "
            "[::1]:7000)");
  EXPECT_EQ(Error({"--token=t", "--public-bind-addr=1.2.3.4:5"}),
            "--public-bind-addr=\"1.2.3.4:5\": invalid IPv6 address (a host here takes no port)");
  EXPECT_EQ(Error({"--token=t", "--log-level=verbose"}),
            "--log-level=\"verbose\": unknown log level (expected debug, info, warn or error)");
  EXPECT_EQ(Error({"--token=t", "--log-format=xml"}),
            "--log-format=\"xml\": unknown log format (expected text or json)");
  EXPECT_EQ(Error({"--token=t", "--listen=h:1", "--admin=h:1"}),
            "--admin=\"h:1\": same address as --listen");
}

TEST_F(ServerConfigTest, BadFileValuesNameTheFileAndPath) {
  const std::string path =
      dir_.Write("server.yaml", "token: t\nlimits:\n  max_tunnels_per_agent: lots\n");
  EXPECT_EQ(Error({"--config=" + path}),
            path + ": limits.max_tunnels_per_agent: expected an unsigned integer");
  const std::string ports = dir_.Write("ports.yaml", "token: t\npublic_ports: 0-10\n");
  EXPECT_EQ(Error({"--config=" + ports}), ports + ": public_ports: ports must be from 1 to 65535");
  const std::string level = dir_.Write("level.yaml", "token: t\nlog: {level: loud}\n");
  EXPECT_EQ(Error({"--config=" + level}),
            level + ": log.level: unknown log level (expected debug, info, warn or error)");
  const std::string beat =
      dir_.Write("beat.yaml", "token: t\ntimeouts: {heartbeat_interval_ms: 40000}\n");
  EXPECT_THAT(Error({"--config=" + beat}),
              HasSubstr(beat + ": timeouts.heartbeat_interval_ms: 40000 must be less than"));
}

TEST_F(ServerConfigTest, TlsPairs) {
  EXPECT_EQ(Error({"--token=t", "--tls-cert=c.pem"}),
            "missing --tls-key (or tls.key_file in the config file), needed with --tls-cert");
  EXPECT_EQ(Error({"--token=t", "--tls-key=k.pem"}),
            "missing --tls-cert (or tls.cert_file in the config file), needed with --tls-key");
  EXPECT_EQ(Error({"--token=t", "--tls-client-ca=ca.pem"}),
            "missing --tls-cert (or tls.cert_file in the config file), needed with "
            "--tls-client-ca");
  const std::string path = dir_.Write("tls.yaml", "token: t\ntls: {cert_file: c.pem}\n");
  EXPECT_EQ(Error({"--config=" + path}),
            "missing --tls-key (or tls.key_file in the config file), needed with tls.cert_file");
  absl::StatusOr<ServerConfig> cfg =
      LoadServerConfig({"--config=" + path, "--tls-key=k.pem", "--tls-client-ca=ca.pem"});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->tls().cert_file(), "c.pem");
  EXPECT_EQ(cfg->tls().key_file(), "k.pem");
}

TEST_F(ServerConfigTest, CommandLineProblems) {
  EXPECT_EQ(Error({"--token=t", "--tunnel=web=1:h:1"}), "unknown flag --tunnel");
  EXPECT_EQ(Error({"--token=t", "extra"}), "unexpected argument #2 (flags look like --name=value)");
  EXPECT_EQ(Error({"--config="}), "--config needs a file name");
  const std::string missing = dir_.path() + "/missing.yaml";
  EXPECT_EQ(Error({"--config=" + missing}), missing + ": cannot read: No such file or directory");
}

TEST_F(ServerConfigTest, AgentAllowedHostnames) {
  const std::string hash(64, 'a');
  auto with = [&](const std::string& hostnames) {
    return dir_.Write("s.yaml", "listen: 127.0.0.1:7000\ntoken: " + std::string(kSecret) +
                                    "\npublic_ports: 20000-20100\nagents:\n  - {id: web-1, "
                                    "token_sha256: " + hash + ", allowed_hostnames: " +
                                    hostnames + "}\n");
  };
  absl::StatusOr<ServerConfig> cfg =
      LoadServerConfig({"--config=" + with("[app.example.com, '*.dev.example.com']")});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->agents(0).allowed_hostnames_size(), 2);
  const std::string bad = with("[app.example.com, 'a.*.example.com']");
  EXPECT_THAT(Error({"--config=" + bad}),
              HasSubstr("agents[0].allowed_hostnames[1]: invalid hostname"));
}

TEST_F(ServerConfigTest, TokenNeverAppearsInErrors) {
  const std::string s = kSecret;
  std::vector<std::vector<std::string>> cases = {
      {"--token=" + s, "--public-ports=abc"},
      {"--token=" + s, "--listen=bad"},
      {"--token=", s},               // token lost its flag: a positional
      {"--token", s, "--token", s},  // given twice
      {"--tokn=" + s},               // typo in the flag name
      {"--token=" + s, "--tls-cert=c"},
  };
  const std::vector<std::string> files = {
      "token: [" + s + "]\n",
      "token: {" + s + ": x}\n",
      "token: \"" + s + "\\z\"\n",
      "token: [" + s + "\n",
      "token: " + s + "\nlimits: {max_agents: " + s + "}\n",
      "token: " + s + "\npublic_ports: " + s + "\n",
      "token: " + s + "\nlisten: " + s + "\n",
      "token: " + s + "\nhooks: [{name: " + s + "x, address: " + s + "}]\n",
      "token: " + s + "\ntoken: " + s + "\n",
      s + "\n",
      "- " + s + "\n",
  };
  for (std::size_t i = 0; i < files.size(); ++i) {
    cases.push_back({"--config=" + dir_.Write("f" + std::to_string(i) + ".yaml", files[i])});
  }
  for (const auto& args : cases) {
    const std::string err = Error(args);
    EXPECT_THAT(err, Not(HasSubstr(kSecret))) << "args[0]=" << args[0];
    EXPECT_THAT(err, Not(HasSubstr("s3cr3t"))) << "args[0]=" << args[0];
  }
  testing::ScopedEnv env("REITUNNEL_TOKEN", s);
  EXPECT_THAT(Error({"--listen=bad"}), Not(HasSubstr(kSecret)));
}

TEST_F(ServerConfigTest, UsageListsEveryFlag) {
  const std::string usage = ServerUsage();
  for (const char* flag :
       {"--config=FILE", "--listen=HOST:PORT", "--admin=HOST:PORT", "--token=SECRET",
        "--public-ports=LOW-HIGH", "--public-bind-addr=HOST", "--hook=NAME=ADDRESS",
        "--log-level=LEVEL", "--log-format=FORMAT", "--tls-cert=FILE", "--tls-key=FILE",
        "--tls-client-ca=FILE", "--help", "--version", "REITUNNEL_TOKEN"}) {
    EXPECT_THAT(usage, HasSubstr(flag));
  }
  EXPECT_EQ(usage.rfind("Usage: reitunneld", 0), 0u);
  EXPECT_EQ(usage.back(), '\n');
}

TEST_F(ServerConfigTest, UsageListsEveryEnvironmentVariableAndTheExitCodes) {
  const std::string usage = ServerUsage();
  for (const char* var : {"REITUNNEL_TOKEN ", "REITUNNEL_ADMIN_TOKEN ", "GRPC_VERBOSITY ",
                          "GRPC_TRACE "}) {
    EXPECT_THAT(usage, HasSubstr(absl::StrCat("\n  ", var))) << var;
  }
  EXPECT_THAT(usage, HasSubstr("Exit codes: 0"));
  for (absl::string_view line : absl::StrSplit(usage, '\n')) {
    EXPECT_LE(line.size(), 80u) << line;
  }
}

}  // namespace
}  // namespace reitunnel::config
