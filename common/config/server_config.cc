#include "common/config/server_config.h"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/config/agent_identities.h"
#include "common/config/flags.h"
#include "common/hooks/events.h"
#include "common/config/load_util.h"
#include "common/config/parse.h"
#include "common/config/yaml_proto.h"

namespace reitunnel::config {
namespace {

using reitunnel::config::v1::HookConfig;
using reitunnel::config::v1::ServerConfig;

FlagSet ServerFlags() {
  FlagSet fs;
  fs.String("config", "FILE", "YAML config file (ServerConfig); flags override it")
      .String("listen", "HOST:PORT", "agent listener (default 0.0.0.0:7000)")
      .String("ws-listen", "HOST:PORT",
              "WebSocket agent listener, path ws_path (default\n/reitunnel); wss with --tls-cert "
              "(default off)")
      .String("http-listen", "HOST:PORT",
              "shared HTTP listener of http: tunnels, routed by\nHost (default off)")
      .String("sni-listen", "HOST:PORT",
              "shared TLS listener of tls: tunnels, routed by\nSNI, TLS passed through (default off)")
      .String("admin", "HOST:PORT", "admin gRPC listener (default 127.0.0.1:7001)")
      .String("token", "SECRET",
              "shared secret agents authenticate with (required\nunless agents: lists identities)")
      .String("public-ports", "LOW-HIGH",
              "ports tunnels may bind, a range or one port\n(default 20000-20100)")
      .String("public-bind-addr", "HOST", "address public ports bind to (default 0.0.0.0)")
      .Repeated("hook", "NAME=ADDRESS",
                "add a hook service subscribed to every event;\nADDRESS: host:port, dns:///svc:port or\n"
                "unix:///path")
      .String("log-level", "LEVEL", "debug, info, warn or error (default info)")
      .String("log-format", "FORMAT", "text or json (default text)")
      .String("tls-cert", "FILE", "PEM certificate chain; enables TLS for agents")
      .String("tls-key", "FILE", "PEM private key for --tls-cert")
      .String("tls-client-ca", "FILE",
              "PEM CA bundle; agents must present a certificate\n"
              "signed by it (mTLS)")
      .String("admin-token", "SECRET",
              "bearer token for the admin API (default: --token)")
      .String("admin-tls-cert", "FILE", "PEM certificate; serves the admin API over TLS")
      .String("admin-tls-key", "FILE", "PEM private key for --admin-tls-cert")
      .String("admin-tls-client-ca", "FILE",
              "PEM CA; admin clients with a certificate signed by\nit need no token (mTLS)")
      .String("metrics", "HOST:PORT", "serve Prometheus metrics at /metrics (default off)")
      .String("dashboard", "HOST:PORT",
              "serve the web dashboard (admin credentials;\ndefault off)")
      .String("workers", "N",
              "data-plane worker threads (default: the CPUs\nthis process may use)")
      .String("cluster-etcd", "URL[,URL...]",
              "cluster mode: etcd endpoints (http:// or\nhttps://); default: standalone")
      .String("cluster-name", "NAME", "cluster mode: etcd key prefix (default reitunnel)")
      .String("cluster-replica-id", "ID",
              "cluster mode: this replica's id (default:\nhost name)");
  return fs;
}

absl::Status ResolveVhost(const FlagSet& fs, const internal::Origins& origins, ServerConfig* cfg) {
  auto* v = cfg->mutable_vhost();
  if (fs.IsSet("http-listen")) v->set_http_listen(fs.GetString("http-listen"));
  if (fs.IsSet("sni-listen")) v->set_sni_listen(fs.GetString("sni-listen"));
  if (v->head_timeout_ms() == 0) v->set_head_timeout_ms(10000);
  if (v->max_head_bytes() == 0) v->set_max_head_bytes(16384);
  if (v->max_head_bytes() < 1024 || v->max_head_bytes() > 1024 * 1024) {
    return origins.FileError("vhost.max_head_bytes", "expected 1024 to 1048576");
  }
  std::vector<std::tuple<std::string, std::string, std::string>> taken = {
      {"listen", "listen", cfg->listen()},
      {"admin", "admin", cfg->admin()},
      {"ws-listen", "ws_listen", cfg->ws_listen()}};
  for (const auto& [flag, key, value] :
       {std::tuple<std::string, std::string, std::string>{"http-listen", "vhost.http_listen",
                                                          v->http_listen()},
        {"sni-listen", "vhost.sni_listen", v->sni_listen()}}) {
    if (value.empty()) continue;
    absl::StatusOr<HostPort> hp = ParseHostPort(value);
    if (!hp.ok()) return origins.Error(flag, key, value, true, hp.status().message());
    for (const auto& [oflag, okey, other] : taken) {
      absl::StatusOr<HostPort> o = ParseHostPort(other);
      if (o.ok() && hp->port != 0 && o->host == hp->host && o->port == hp->port) {
        return origins.Error(flag, key, value, true,
                             absl::StrCat("same address as ", origins.Name(oflag, okey)));
      }
    }
    taken.push_back({flag, key, value});
  }
  return absl::OkStatus();
}

void FillDefaults(ServerConfig* cfg) {
  if (cfg->listen().empty()) cfg->set_listen("0.0.0.0:7000");
  if (cfg->admin().empty()) cfg->set_admin("127.0.0.1:7001");
  if (cfg->public_ports().empty()) cfg->set_public_ports("20000-20100");
  if (cfg->public_bind_addr().empty()) cfg->set_public_bind_addr("0.0.0.0");
  auto* limits = cfg->mutable_limits();
  if (limits->max_tunnels_per_agent() == 0) limits->set_max_tunnels_per_agent(16);
  if (limits->max_agents() == 0) limits->set_max_agents(1024);
  if (limits->data_pool_size() == 0) limits->set_data_pool_size(4);
  if (limits->max_visitors_per_tunnel() == 0) limits->set_max_visitors_per_tunnel(10000);
  auto* timeouts = cfg->mutable_timeouts();
  if (timeouts->handshake_ms() == 0) timeouts->set_handshake_ms(5000);
  if (timeouts->udp_flow_idle_ms() == 0) timeouts->set_udp_flow_idle_ms(60000);
  if (timeouts->heartbeat_interval_ms() == 0) timeouts->set_heartbeat_interval_ms(10000);
  if (timeouts->idle_ms() == 0) timeouts->set_idle_ms(30000);
  if (timeouts->data_connection_ms() == 0) timeouts->set_data_connection_ms(10000);
  if (timeouts->drain_ms() == 0) timeouts->set_drain_ms(10000);
  auto* hs = cfg->mutable_hook_settings();
  if (hs->strategy().empty()) hs->set_strategy("stop_on_error");
  if (hs->flush_interval_ms() == 0) hs->set_flush_interval_ms(1000);
  if (hs->max_batch_tunnels() == 0) hs->set_max_batch_tunnels(1000);
  if (hs->max_pending_batches() == 0) hs->set_max_pending_batches(64);
}

// --cluster-* over the file's `cluster`; endpoints must be http(s) URLs.
absl::Status ResolveCluster(const FlagSet& fs, const internal::Origins& origins,
                            config::v1::ClusterConfig* c) {
  if (fs.IsSet("cluster-etcd")) {
    c->clear_endpoints();
    for (absl::string_view url : absl::StrSplit(fs.GetString("cluster-etcd"), ',')) {
      if (!url.empty()) c->add_endpoints(std::string(url));
    }
  }
  if (fs.IsSet("cluster-name")) c->set_name(fs.GetString("cluster-name"));
  if (fs.IsSet("cluster-replica-id")) c->set_replica_id(fs.GetString("cluster-replica-id"));
  for (int i = 0; i < c->endpoints_size(); ++i) {
    const std::string& url = c->endpoints(i);
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      return origins.Error("cluster-etcd", absl::StrCat("cluster.endpoints[", i, "]"), url, true,
                           "expected http://HOST:PORT or https://HOST:PORT");
    }
  }
  if (c->endpoints_size() == 0 && (!c->name().empty() || !c->replica_id().empty())) {
    return origins.Error("cluster-etcd", "cluster.endpoints", "", false,
                         "cluster settings need etcd endpoints");
  }
  return absl::OkStatus();
}

// Fills the per-hook defaults and checks what only the config file can set
// (flag hooks carry just a name and an address), so errors use file paths.
absl::Status ResolveHookDetails(const internal::Origins& origins, int i, HookConfig* hook) {
  const std::string at = absl::StrCat("hooks[", i, "]");
  // An empty list stays empty: it means the default events (all but the
  // per-visitor ones), narrowed to what the hook says it implements.
  std::set<std::string> seen;
  for (int j = 0; j < hook->events_size(); ++j) {
    const std::string& e = hook->events(j);
    const std::string ev_at = absl::StrCat(at, ".events[", j, "]");
    if (!hooks::FindHookEvent(e)) {
      return origins.FileError(
          ev_at, absl::StrCat("unknown hook event (expected ", std::string(hooks::kHookEventList), ")"));
    }
    if (!seen.insert(e).second) return origins.FileError(ev_at, "event listed twice");
  }
  if (hook->timeout_ms() == 0) hook->set_timeout_ms(500);
  if (hook->queue_size() == 0) hook->set_queue_size(4096);
  if (hook->failure_policy().empty()) hook->set_failure_policy("fail_closed");
  if (hook->failure_policy() != "fail_closed" && hook->failure_policy() != "fail_open") {
    return origins.FileError(at + ".failure_policy",
                             "unknown failure policy (expected fail_closed or fail_open)");
  }
  auto* tls = hook->mutable_tls();
  // A CA or a client certificate only makes sense over TLS; take it as the
  // request for TLS rather than silently talking plain text.
  if (!tls->ca_file().empty() || !tls->cert_file().empty()) tls->set_enabled(true);
  if (!tls->cert_file().empty() && tls->key_file().empty()) {
    return origins.FileError(at + ".tls.key_file", "missing (needed with tls.cert_file)");
  }
  if (!tls->key_file().empty() && tls->cert_file().empty()) {
    return origins.FileError(at + ".tls.cert_file", "missing (needed with tls.key_file)");
  }
  if (!tls->enabled() && !tls->server_name().empty()) {
    return origins.FileError(at + ".tls.server_name", "set but TLS is off (add tls.enabled: true)");
  }
  return absl::OkStatus();
}

// File hooks are checked by path, flag hooks by their spec; names must be
// unique across both.
absl::Status ResolveHooks(const FlagSet& fs, const internal::Origins& origins, ServerConfig* cfg) {
  const int file_hooks = cfg->hooks_size();
  for (int i = 0; i < file_hooks; ++i) {
    const HookConfig& hook = cfg->hooks(i);
    const std::string at = absl::StrCat("hooks[", i, "]");
    if (hook.name().empty()) return origins.FileError(at + ".name", "missing");
    if (!IsValidHookName(hook.name())) {
      return origins.FileError(at + ".name",
                               "invalid hook name (1-64 characters from A-Z a-z 0-9 _ . -)");
    }
    if (hook.address().empty()) return origins.FileError(at + ".address", "missing");
    if (absl::Status st = ValidateHookAddress(hook.address()); !st.ok()) {
      return origins.FileError(at + ".address", st.message());
    }
  }
  const std::vector<std::string>& specs = fs.GetRepeated("hook");
  for (const std::string& spec : specs) {
    absl::StatusOr<HookConfig> hook = ParseHookSpec(spec);
    if (!hook.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--hook=", internal::Quote(spec), ": ",
                                                     std::string(hook.status().message())));
    }
    *cfg->add_hooks() = *std::move(hook);
  }
  std::map<std::string, int> first_index;
  for (int i = 0; i < cfg->hooks_size(); ++i) {
    auto [it, inserted] = first_index.emplace(cfg->hooks(i).name(), i);
    if (inserted) continue;
    if (i >= file_hooks) {
      const std::string& spec = specs[static_cast<std::size_t>(i - file_hooks)];
      return absl::InvalidArgumentError(absl::StrCat(
          "--hook=", internal::Quote(spec), ": duplicate hook name",
          it->second < file_hooks ? " (also in the config file)" : " (also another --hook)"));
    }
    return origins.FileError(absl::StrCat("hooks[", i, "].name"),
                             absl::StrCat("duplicate hook name (also hooks[", it->second, "])"));
  }
  for (int i = 0; i < cfg->hooks_size(); ++i) {
    if (absl::Status st = ResolveHookDetails(origins, i, cfg->mutable_hooks(i)); !st.ok()) {
      return st;
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(const FlagSet& fs, const internal::Origins& origins, ServerConfig* cfg) {
  absl::StatusOr<HostPort> listen = ParseHostPort(cfg->listen());
  if (!listen.ok()) {
    return origins.Error("listen", "listen", cfg->listen(), true, listen.status().message());
  }
  absl::StatusOr<HostPort> admin = ParseHostPort(cfg->admin());
  if (!admin.ok()) {
    return origins.Error("admin", "admin", cfg->admin(), true, admin.status().message());
  }
  if (listen->port != 0 && listen->host == admin->host && listen->port == admin->port) {
    return origins.Error("admin", "admin", cfg->admin(), true,
                         absl::StrCat("same address as ", origins.Name("listen", "listen")));
  }
  // With per-agent identities the shared token is optional: empty, only
  // the listed agents may connect.
  if (cfg->agents_size() > 0 && cfg->token().empty()) {
    if (cfg->admin_api().token().empty() && cfg->admin_api().client_ca_file().empty()) {
      return absl::InvalidArgumentError(
          "without a shared --token the admin API needs --admin-token (or "
          "admin_api.client_ca_file)");
    }
  } else if (absl::Status st = internal::CheckToken(cfg->token(), fs, origins); !st.ok()) {
    return st;
  }
  if (absl::Status st =
          internal::CheckTokenLength(cfg->admin_api().token(), internal::kAdminToken, fs, origins);
      !st.ok()) {
    return st;
  }
  if (absl::Status st = internal::ResolveWebSocket(fs, origins, cfg); !st.ok()) return st;
  if (absl::Status st = ResolveVhost(fs, origins, cfg); !st.ok()) return st;
  if (!cfg->metrics().empty()) {
    if (absl::StatusOr<HostPort> m = ParseHostPort(cfg->metrics()); !m.ok()) {
      return origins.Error("metrics", "metrics", cfg->metrics(), true, m.status().message());
    }
  }
  if (!cfg->dashboard().empty()) {
    if (absl::StatusOr<HostPort> d = ParseHostPort(cfg->dashboard()); !d.ok()) {
      return origins.Error("dashboard", "dashboard", cfg->dashboard(), true, d.status().message());
    }
  }
  const auto& atls = cfg->admin_api();
  if (atls.cert_file().empty() != atls.key_file().empty()) {
    return absl::InvalidArgumentError(
        "admin TLS needs both --admin-tls-cert and --admin-tls-key (admin_api.cert_file and "
        "admin_api.key_file)");
  }
  if (!atls.client_ca_file().empty() && atls.cert_file().empty()) {
    return absl::InvalidArgumentError(
        "--admin-tls-client-ca (admin_api.client_ca_file) requires --admin-tls-cert");
  }
  if (absl::StatusOr<PortRange> ports = ParsePortRange(cfg->public_ports()); !ports.ok()) {
    return origins.Error("public-ports", "public_ports", cfg->public_ports(), true,
                         ports.status().message());
  }
  absl::StatusOr<std::string> bind = ParseHost(cfg->public_bind_addr());
  if (!bind.ok()) {
    return origins.Error("public-bind-addr", "public_bind_addr", cfg->public_bind_addr(), true,
                         bind.status().message());
  }
  cfg->set_public_bind_addr(*bind);
  if (absl::Status st = internal::ResolveAgents(origins, cfg); !st.ok()) return st;

  const auto& tls = cfg->tls();
  const std::string cert = origins.Name("tls-cert", "tls.cert_file");
  const std::string key = origins.Name("tls-key", "tls.key_file");
  if (!tls.cert_file().empty() && tls.key_file().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("missing --tls-key (or tls.key_file in the config file), needed with ", cert));
  }
  if (!tls.key_file().empty() && tls.cert_file().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "missing --tls-cert (or tls.cert_file in the config file), needed with ", key));
  }
  if (!tls.client_ca_file().empty() && tls.cert_file().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("missing --tls-cert (or tls.cert_file in the config file), needed with ",
                     origins.Name("tls-client-ca", "tls.client_ca_file")));
  }

  if (absl::Status st = internal::ResolveLog(fs, origins, cfg->mutable_log()); !st.ok()) return st;

  const std::string& strategy = cfg->hook_settings().strategy();
  if (strategy != "stop_on_error" && strategy != "collect_and_continue") {
    return origins.FileError("hook_settings.strategy",
                             "unknown strategy (expected stop_on_error or collect_and_continue)");
  }

  const auto& t = cfg->timeouts();
  if (t.heartbeat_interval_ms() >= t.idle_ms()) {
    return origins.FileError(
        "timeouts.heartbeat_interval_ms",
        absl::StrCat(t.heartbeat_interval_ms(), " must be less than timeouts.idle_ms (",
                     t.idle_ms(), ") or every idle agent is dropped"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServerConfig> LoadServerConfig(const std::vector<std::string>& args) {
  return LoadServerConfig(args, ReadConfigFile);
}

absl::StatusOr<ServerConfig> LoadServerConfig(const std::vector<std::string>& args,
                                              ConfigFileReader read) {
  FlagSet fs = ServerFlags();
  if (absl::Status st = fs.Parse(args); !st.ok()) return st;

  ServerConfig cfg;
  std::string path;
  if (fs.IsSet("config")) {
    path = fs.GetString("config");
    if (path.empty()) return absl::InvalidArgumentError("--config needs a file name");
    if (absl::Status st = LoadYamlFile(path, &cfg, read); !st.ok()) return st;
  }
  const internal::Origins origins(fs, path);

  if (absl::Status st = internal::ResolveToken(fs, cfg.mutable_token()); !st.ok()) return st;
  if (fs.IsSet("listen")) cfg.set_listen(fs.GetString("listen"));
  if (fs.IsSet("admin")) cfg.set_admin(fs.GetString("admin"));
  if (fs.IsSet("public-ports")) cfg.set_public_ports(fs.GetString("public-ports"));
  if (fs.IsSet("public-bind-addr")) cfg.set_public_bind_addr(fs.GetString("public-bind-addr"));
  if (fs.IsSet("tls-cert")) cfg.mutable_tls()->set_cert_file(fs.GetString("tls-cert"));
  if (fs.IsSet("tls-key")) cfg.mutable_tls()->set_key_file(fs.GetString("tls-key"));
  if (fs.IsSet("tls-client-ca")) {
    cfg.mutable_tls()->set_client_ca_file(fs.GetString("tls-client-ca"));
  }
  if (fs.IsSet("admin-token")) {
    cfg.mutable_admin_api()->set_token(fs.GetString("admin-token"));
  } else if (const char* env = std::getenv(internal::kAdminTokenEnv); env && *env) {
    cfg.mutable_admin_api()->set_token(env);
  }
  if (fs.IsSet("admin-tls-cert")) cfg.mutable_admin_api()->set_cert_file(fs.GetString("admin-tls-cert"));
  if (fs.IsSet("admin-tls-key")) cfg.mutable_admin_api()->set_key_file(fs.GetString("admin-tls-key"));
  if (fs.IsSet("admin-tls-client-ca")) {
    cfg.mutable_admin_api()->set_client_ca_file(fs.GetString("admin-tls-client-ca"));
  }
  if (fs.IsSet("metrics")) cfg.set_metrics(fs.GetString("metrics"));
  if (fs.IsSet("dashboard")) cfg.set_dashboard(fs.GetString("dashboard"));
  uint32_t workers = cfg.workers();
  if (absl::Status st = internal::ResolveWorkers(fs, origins, &workers); !st.ok()) return st;
  cfg.set_workers(workers);
  if (absl::Status st = ResolveCluster(fs, origins, cfg.mutable_cluster()); !st.ok()) return st;
  if (absl::Status st = ResolveHooks(fs, origins, &cfg); !st.ok()) return st;

  FillDefaults(&cfg);
  if (absl::Status st = Validate(fs, origins, &cfg); !st.ok()) return st;
  return cfg;
}

std::vector<std::string> ServerConfigWarnings(const ServerConfig& cfg) {
  std::vector<std::string> out;
  if (auto w = internal::WeakTokenWarning("the token", cfg.token())) out.push_back(*std::move(w));
  // An empty admin token means "the token": judged above already.
  if (auto w = internal::WeakTokenWarning("the admin token", cfg.admin_api().token())) {
    out.push_back(*std::move(w));
  }
  return out;
}

std::string ServerUsage() {
  return absl::StrCat(
      "Usage: reitunneld [flags]\n"
      "\n"
      "Reverse TCP tunnel server. Agents (reitunnel) connect to --listen and open\n"
      "tunnels; visitors connect to the tunnels' public ports.\n"
      "\n"
      "Flags (--name=value or --name value):\n",
      ServerFlags().Usage(),
      "  --help                      show this help and exit\n"
      "  --version                   print the version and exit\n"
      "\n"
      "Every flag has a config file equivalent (keys are the field names of\n"
      "reitunnel.config.v1.ServerConfig); flags override the file.\n"
      "\n"
      "Environment (keeps secrets out of ps and the config file):\n"
      "  ",
      internal::kTokenEnv,
      "             agent token when --token is not given\n"
      "                              (flag > env > file)\n"
      "  ",
      internal::kAdminTokenEnv,
      "       admin API token when --admin-token is not\n"
      "                              given (flag > env > file; default: the\n"
      "                              agent token)\n"
      "  GRPC_VERBOSITY              gRPC's own log level (debug, info, error; default\n"
      "                              error), written through --log-format\n"
      "  GRPC_TRACE                  gRPC tracers to turn on (debugging only)\n"
      "\n"
      "Exit codes: 0 stopped cleanly (SIGTERM/SIGINT, after the drain), 1 failed\n"
      "(a listener could not start, a hook vetoed the start, a fatal error), 2 bad\n"
      "command line or configuration.\n"
      "\n"
      "Example:\n"
      "  reitunneld --listen=127.0.0.1:7000 --admin=127.0.0.1:7001 --token=SECRET \\\n"
      "      --public-ports=20000-20100 --hook=policy=127.0.0.1:50051\n");
}

}  // namespace reitunnel::config
