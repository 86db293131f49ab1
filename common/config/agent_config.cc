#include "common/config/agent_config.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/config/flags.h"
#include "common/config/load_util.h"
#include "common/config/parse.h"
#include "common/config/agent_identities.h"
#include "common/config/yaml_proto.h"
#include "common/transport/url/proxy_url.h"
#include "common/transport/url/server_address.h"
#include "google/protobuf/stubs/common.h"

namespace reitunnel::config {
namespace {

using reitunnel::config::v1::AgentConfig;
using reitunnel::config::v1::TunnelConfig;

constexpr char kLabelKeyRule[] = "1-128 characters from A-Z a-z 0-9 _ . - /";

FlagSet AgentFlags() {
  FlagSet fs;
  fs.String("config", "FILE", "YAML config file (AgentConfig); flags override it")
      .String("server", "ADDRESS",
              "the server (required): HOST:PORT, or its WebSocket\nlistener "
              "ws://HOST[:PORT][/PATH] or wss://...")
      .String("token", "SECRET", "shared secret, or this agent's own token with\n--agent-id "
              "(required)")
      .String("agent-id", "NAME",
              "this agent's identity, configured on the server\n(agents:) with the hash of "
              "--token")
      .String("proxy", "URL",
              "HTTP proxy to the server,\nhttp://[USER:PASS@]HOST:PORT (default: "
              "HTTPS_PROXY\netc. as curl; \"\": none)")
      .Repeated("tunnel", "NAME=REMOTE_PORT:LOCAL_HOST:LOCAL_PORT",
                "expose LOCAL_HOST:LOCAL_PORT on the server's\nREMOTE_PORT (0: the server "
                "picks one); replaces\nthe config file's tunnels. Append\n"
                ",proxy_protocol=v1|v2 to send the visitor's\naddress to the service. "
                "Routed by host name on the\nserver's shared port: NAME=http:HOSTNAME:HOST:PORT\n"
                "(,basic_auth=USER:PASSWORD, ,x_forwarded=false)\nor NAME=tls:HOSTNAME:HOST:PORT "
                "(TLS\npassthrough). UDP: NAME=udp:REMOTE_PORT:HOST:PORT")
      .Repeated("label", "KEY=VALUE", "label reported to the server and its hooks")
      .String("log-level", "LEVEL", "debug, info, warn or error (default info)")
      .String("log-format", "FORMAT", "text or json (default text)")
      .Bool("tls", "connect to the server with TLS")
      .String("tls-ca", "FILE", "PEM CA bundle that verifies the server\n(default: system roots)")
      .String("tls-cert", "FILE", "PEM client certificate (mTLS)")
      .String("tls-key", "FILE", "PEM private key for --tls-cert")
      .String("tls-server-name", "NAME",
              "name checked against the server certificate\n(default: host of --server)")
      .String("workers", "N",
              "worker threads relaying visitors (default: the\nCPUs this process may use)");
  return fs;
}

void FillDefaults(AgentConfig* cfg) {
  auto* reconnect = cfg->mutable_reconnect();
  if (reconnect->initial_backoff_ms() == 0) reconnect->set_initial_backoff_ms(500);
  if (reconnect->max_backoff_ms() == 0) reconnect->set_max_backoff_ms(30000);
  if (cfg->connect_timeout_ms() == 0) cfg->set_connect_timeout_ms(5000);
}

absl::Status CheckFileTunnel(const internal::Origins& origins, int i, const TunnelConfig& t) {
  const std::string at = absl::StrCat("tunnels[", i, "]");
  if (t.name().empty()) return origins.FileError(at + ".name", "missing");
  if (!IsValidTunnelName(t.name())) {
    return origins.FileError(at + ".name",
                             "invalid tunnel name (1-64 characters from A-Z a-z 0-9 _ . -)");
  }
  const std::string& kind = t.kind();
  if (!kind.empty() && kind != "tcp" && kind != "udp" && kind != "http" && kind != "tls") {
    return origins.FileError(at + ".kind", "expected tcp, udp, http or tls");
  }
  if (kind == "udp" && !t.proxy_protocol().empty()) {
    return origins.FileError(at + ".proxy_protocol", "is for tcp, http and tls tunnels");
  }
  const bool routed = kind == "http" || kind == "tls";
  if (routed) {
    if (t.hostname().empty()) return origins.FileError(at + ".hostname", "missing (required for " + kind + " tunnels)");
    if (absl::Status st = CheckTunnelHostname(t.hostname()); !st.ok()) {
      return origins.FileError(at + ".hostname", st.message());
    }
    if (t.remote_port() != 0) {
      return origins.FileError(at + ".remote_port",
                               "must be 0 for " + kind + " tunnels (they share the server's " +
                                   (kind == "http" ? "--http-listen" : "--sni-listen") + " port)");
    }
  } else if (!t.hostname().empty()) {
    return origins.FileError(at + ".hostname", "only http and tls tunnels have a hostname");
  }
  if (t.has_http()) {
    if (kind != "http") return origins.FileError(at + ".http", "only for http tunnels");
    const auto& h = t.http();
    const bool has_password = !h.basic_auth_password().empty();
    const bool has_hash = !h.basic_auth_password_sha256().empty();
    if (h.basic_auth_user().empty() && (has_password || has_hash)) {
      return origins.FileError(at + ".http.basic_auth_user", "missing (a password is set)");
    }
    if (!h.basic_auth_user().empty() && has_password == has_hash) {
      return origins.FileError(at + ".http",
                               "basic_auth_user needs exactly one of basic_auth_password and "
                               "basic_auth_password_sha256");
    }
    if (has_hash) {
      bool hex = h.basic_auth_password_sha256().size() == 64;
      for (char c : h.basic_auth_password_sha256()) hex = hex && absl::ascii_isxdigit(static_cast<unsigned char>(c));
      if (!hex) {
        return origins.FileError(at + ".http.basic_auth_password_sha256",
                                 "expected 64 hex digits (printf %s \"$PASSWORD\" | sha256sum)");
      }
    }
  }
  if (t.remote_port() > 65535) {
    return origins.FileError(at + ".remote_port",
                             absl::StrCat(t.remote_port(), " is not a port (expected 0-65535)"));
  }
  if (t.local_addr().empty()) return origins.FileError(at + ".local_addr", "missing");
  absl::StatusOr<HostPort> local = ParseHostPort(t.local_addr());
  if (!local.ok()) return origins.FileError(at + ".local_addr", local.status().message());
  if (local->port == 0) {
    return origins.FileError(at + ".local_addr", "port must be from 1 to 65535");
  }
  if (absl::Status st = CheckProxyProtocolVersion(t.proxy_protocol()); !st.ok()) {
    return origins.FileError(at + ".proxy_protocol", st.message());
  }
  return absl::OkStatus();
}

absl::Status ResolveTunnels(const FlagSet& fs, const internal::Origins& origins, AgentConfig* cfg) {
  const std::vector<std::string>& specs = fs.GetRepeated("tunnel");
  const bool from_flags = !specs.empty();
  if (from_flags) {
    cfg->clear_tunnels();
    for (const std::string& spec : specs) {
      absl::StatusOr<TunnelConfig> t = ParseTunnelSpec(spec);
      if (!t.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--tunnel=", internal::Quote(spec), ": ", t.status().message()));
      }
      *cfg->add_tunnels() = *std::move(t);
    }
  } else {
    for (int i = 0; i < cfg->tunnels_size(); ++i) {
      if (absl::Status st = CheckFileTunnel(origins, i, cfg->tunnels(i)); !st.ok()) return st;
    }
  }
  for (auto& t : *cfg->mutable_tunnels()) {
    if (t.kind() == "tcp") t.clear_kind();
    if (t.kind() == "http" && !t.http().has_x_forwarded()) t.mutable_http()->set_x_forwarded(true);
  }
  if (cfg->tunnels().empty()) {
    return absl::InvalidArgumentError(
        "no tunnels: add --tunnel=NAME=REMOTE_PORT:LOCAL_HOST:LOCAL_PORT (or tunnels: in the "
        "config file)");
  }
  std::map<std::string, int> first_index;
  for (int i = 0; i < cfg->tunnels_size(); ++i) {
    auto [it, inserted] = first_index.emplace(cfg->tunnels(i).name(), i);
    if (inserted) continue;
    if (from_flags) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tunnel=", internal::Quote(specs[static_cast<std::size_t>(i)]),
                       ": duplicate tunnel name"));
    }
    return origins.FileError(
        absl::StrCat("tunnels[", i, "].name"),
        absl::StrCat("duplicate tunnel name (also tunnels[", it->second, "])"));
  }
  return absl::OkStatus();
}

absl::Status ResolveLabels(const FlagSet& fs, const internal::Origins& origins, AgentConfig* cfg) {
  for (const auto& [key, value] : cfg->labels()) {
    if (!IsValidLabelKey(key)) {
      return origins.FileError(absl::StrCat("labels.", key),
                               absl::StrCat("invalid label key (", kLabelKeyRule, ")"));
    }
  }
  // Values are not echoed: labels are free-form and may carry anything.
  std::set<std::string> seen;
  for (const std::string& spec : fs.GetRepeated("label")) {
    const std::size_t eq = spec.find('=');
    if (eq == std::string::npos) return absl::InvalidArgumentError("--label: expected KEY=VALUE");
    const std::string key = spec.substr(0, eq);
    if (!IsValidLabelKey(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--label: invalid label key (", kLabelKeyRule, ")"));
    }
    if (!seen.insert(key).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--label: key ", internal::Quote(key), " given more than once"));
    }
    // Labels travel in the Hello frame, whose proto3 strings must be UTF-8.
    const std::string value = spec.substr(eq + 1);
    if (!google::protobuf::internal::IsStructurallyValidUTF8(value.data(),
                                                             static_cast<int>(value.size()))) {
      return absl::InvalidArgumentError(
          absl::StrCat("--label=", key, "=...: the value is not valid UTF-8 text"));
    }
    (*cfg->mutable_labels())[key] = value;
  }
  return absl::OkStatus();
}

absl::Status ResolveTls(const FlagSet& fs, const internal::Origins& origins, AgentConfig* cfg,
                        const transport::url::ServerAddress& server) {
  auto* tls = cfg->mutable_tls();
  if (fs.IsSet("tls")) tls->set_enabled(fs.GetBool("tls"));
  if (fs.IsSet("tls-ca")) tls->set_ca_file(fs.GetString("tls-ca"));
  if (fs.IsSet("tls-cert")) tls->set_cert_file(fs.GetString("tls-cert"));
  if (fs.IsSet("tls-key")) tls->set_key_file(fs.GetString("tls-key"));
  if (fs.IsSet("tls-server-name")) tls->set_server_name(fs.GetString("tls-server-name"));

  const std::string cert = origins.Name("tls-cert", "tls.cert_file");
  const std::string key = origins.Name("tls-key", "tls.key_file");
  // The scheme says it: wss:// is TLS, ws:// is not.
  if (server.scheme == transport::url::LinkScheme::kWss) tls->set_enabled(true);
  if (server.scheme == transport::url::LinkScheme::kWs && tls->enabled()) {
    return absl::InvalidArgumentError(absl::StrCat(
        origins.Name("tls", "tls.enabled"),
        " asks for TLS but the server address is ws:// (plain WebSocket): use wss://"));
  }
  if (!tls->enabled()) {
    // Quietly connecting in plain text to a user who asked for a CA or a
    // client certificate would be the worst reading of their intent.
    const struct {
      const std::string& value;
      const char* flag;
      const char* key;
    } settings[] = {{tls->ca_file(), "tls-ca", "tls.ca_file"},
                    {tls->cert_file(), "tls-cert", "tls.cert_file"},
                    {tls->key_file(), "tls-key", "tls.key_file"},
                    {tls->server_name(), "tls-server-name", "tls.server_name"}};
    for (const auto& s : settings) {
      if (s.value.empty()) continue;
      return absl::InvalidArgumentError(
          absl::StrCat(origins.Name(s.flag, s.key),
                       " is set but TLS is off: add --tls (or tls.enabled: true in the config "
                       "file)"));
    }
    return absl::OkStatus();
  }
  if (!tls->cert_file().empty() && tls->key_file().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("missing --tls-key (or tls.key_file in the config file), needed with ", cert));
  }
  if (!tls->key_file().empty() && tls->cert_file().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "missing --tls-cert (or tls.cert_file in the config file), needed with ", key));
  }
  if (tls->server_name().empty()) tls->set_server_name(server.host);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AgentConfig> LoadAgentConfig(const std::vector<std::string>& args) {
  return LoadAgentConfig(args, ReadConfigFile);
}

absl::StatusOr<AgentConfig> LoadAgentConfig(const std::vector<std::string>& args,
                                            ConfigFileReader read) {
  FlagSet fs = AgentFlags();
  if (absl::Status st = fs.Parse(args); !st.ok()) return st;

  AgentConfig cfg;
  std::string path;
  if (fs.IsSet("config")) {
    path = fs.GetString("config");
    if (path.empty()) return absl::InvalidArgumentError("--config needs a file name");
    if (absl::Status st = LoadYamlFile(path, &cfg, read); !st.ok()) return st;
  }
  const internal::Origins origins(fs, path);

  if (absl::Status st = internal::ResolveToken(fs, cfg.mutable_token()); !st.ok()) return st;
  if (fs.IsSet("server")) cfg.set_server(fs.GetString("server"));
  FillDefaults(&cfg);

  if (cfg.server().empty()) {
    return absl::InvalidArgumentError("missing --server (or server: in the config file)");
  }
  absl::StatusOr<transport::url::ServerAddress> server =
      transport::url::ParseServerAddress(cfg.server());
  if (!server.ok()) {
    return origins.Error("server", "server", cfg.server(), true, server.status().message());
  }
  if (server->port == 0) {
    return origins.Error("server", "server", cfg.server(), true, "port must be from 1 to 65535");
  }
  if (absl::Status st = internal::CheckToken(cfg.token(), fs, origins); !st.ok()) return st;
  if (fs.IsSet("agent-id")) cfg.set_agent_id(fs.GetString("agent-id"));
  if (!cfg.agent_id().empty() && !internal::IsValidAgentId(cfg.agent_id())) {
    return origins.Error("agent-id", "agent_id", cfg.agent_id(), false,
                         "invalid agent id (1-128 characters from A-Z a-z 0-9 _ . @ -)");
  }
  if (fs.IsSet("proxy")) cfg.set_proxy(fs.GetString("proxy"));
  if (cfg.has_proxy() && !cfg.proxy().empty()) {
    // Never echoed: a proxy URL may carry a password.
    if (auto p = transport::url::ParseProxyUrl(cfg.proxy()); !p.ok()) {
      return origins.Error("proxy", "proxy", cfg.proxy(), false, p.status().message());
    }
  }
  if (absl::Status st = ResolveTunnels(fs, origins, &cfg); !st.ok()) return st;
  if (absl::Status st = ResolveLabels(fs, origins, &cfg); !st.ok()) return st;
  if (absl::Status st = ResolveTls(fs, origins, &cfg, *server); !st.ok()) return st;
  if (absl::Status st = internal::ResolveLog(fs, origins, cfg.mutable_log()); !st.ok()) return st;
  uint32_t workers = cfg.workers();
  if (absl::Status st = internal::ResolveWorkers(fs, origins, &workers); !st.ok()) return st;
  cfg.set_workers(workers);

  const auto& r = cfg.reconnect();
  if (r.initial_backoff_ms() > r.max_backoff_ms()) {
    return origins.FileError(
        "reconnect.initial_backoff_ms",
        absl::StrCat(r.initial_backoff_ms(), " is above reconnect.max_backoff_ms (",
                     r.max_backoff_ms(), ")"));
  }
  return cfg;
}

std::vector<std::string> AgentConfigWarnings(const AgentConfig& cfg) {
  std::vector<std::string> out;
  if (auto w = internal::WeakTokenWarning("the token", cfg.token())) out.push_back(*std::move(w));
  return out;
}

std::string AgentUsage() {
  return absl::StrCat(
      "Usage: reitunnel [flags]\n"
      "\n"
      "Reverse tunnel agent. Runs next to a private service, connects to a\n"
      "reitunneld server and exposes the service on a public port there.\n"
      "\n"
      "Flags (--name=value or --name value):\n",
      AgentFlags().Usage(),
      "  --help                      show this help and exit\n"
      "  --version                   print the version and exit\n"
      "\n"
      "Every flag has a config file equivalent (keys are the field names of\n"
      "reitunnel.config.v1.AgentConfig); flags override the file.\n"
      "\n"
      "Environment:\n"
      "  ",
      internal::kTokenEnv,
      "             token when --token is not given\n"
      "                              (flag > env > file)\n"
      "  https_proxy, HTTPS_PROXY, wss_proxy, WSS_PROXY, ws_proxy, WS_PROXY,\n"
      "  http_proxy, HTTP_PROXY, all_proxy, ALL_PROXY, no_proxy, NO_PROXY\n"
      "                              the proxy when --proxy is not given (below)\n"
      "  REQUEST_METHOD              when set (a CGI environment), HTTP_PROXY is\n"
      "                              ignored, as curl does (httpoxy)\n"
      "\n"
      "Exit codes: 0 stopped by SIGTERM/SIGINT, 1 refused for good (wrong token,\n"
      "denied by a hook, kicked by an operator, no tunnel could open), 2 bad command\n"
      "line or configuration. Everything else (server down, retryable refusals,\n"
      "bans) is retried with backoff.\n"
      "\n"
      "Example:\n"
      "  reitunnel --server=127.0.0.1:7000 --token=SECRET \\\n"
      "      --tunnel=web=20080:127.0.0.1:8080 --label=team=infra\n"
      "  reitunnel --server=wss://tunnel.example.com/reitunnel --agent-id=db-7 \\\n"
      "      --token=\"$OWN_TOKEN\" --proxy=http://proxy.corp:3128 \\\n"
      "      --tunnel=db=0:127.0.0.1:5432\n"
      "\n"
      "Without --proxy the proxy comes from the environment as curl reads it:\n"
      "https_proxy/HTTPS_PROXY (HOST:PORT, wss://), ws_proxy then http_proxy/HTTP_PROXY\n"
      "(ws://), all_proxy, and no_proxy/NO_PROXY exceptions.\n");
}

}  // namespace reitunnel::config
