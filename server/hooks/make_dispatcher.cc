#include "server/hooks/make_dispatcher.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/version.h"
#include "common/wire/auth.h"
#include "server/hooks/grpc_hook_client.h"
#include "server/hooks/hook_completion_queue.h"

namespace reitunnel::server {

absl::Status NormalizeHookConfig(config::v1::ServerConfig* cfg) {
  auto* hs = cfg->mutable_hook_settings();
  if (hs->strategy().empty()) hs->set_strategy("stop_on_error");
  if (hs->strategy() != "stop_on_error" && hs->strategy() != "collect_and_continue") {
    return absl::InvalidArgumentError(
        "hook_settings.strategy: expected stop_on_error or collect_and_continue");
  }
  if (hs->flush_interval_ms() == 0) hs->set_flush_interval_ms(1000);
  if (hs->max_batch_tunnels() == 0) hs->set_max_batch_tunnels(1000);
  if (hs->max_pending_batches() == 0) hs->set_max_pending_batches(64);
  if (hs->startup_wait_ms() == 0) hs->set_startup_wait_ms(15000);
  for (int i = 0; i < cfg->hooks_size(); ++i) {
    auto* h = cfg->mutable_hooks(i);
    std::string path = absl::StrCat("hooks[", i, "]");
    if (h->timeout_ms() == 0) h->set_timeout_ms(500);
    if (h->queue_size() == 0) h->set_queue_size(4096);
    if (h->failure_policy().empty()) h->set_failure_policy("fail_closed");
    if (h->failure_policy() != "fail_closed" && h->failure_policy() != "fail_open") {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".failure_policy: expected fail_closed or fail_open"));
    }
    for (int j = 0; j < h->events_size(); ++j) {
      if (!hooks::FindHookEvent(h->events(j))) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ".events[", j, "]: unknown hook event \"", h->events(j).substr(0, 64),
            "\" (expected ", std::string(hooks::kHookEventList), ")"));
      }
    }
    if (!h->tls().cert_file().empty() && h->tls().key_file().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ".tls.key_file: required with cert_file"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<HookDispatcher>> MakeHookDispatcher(
    asio::any_io_executor ex, const config::v1::ServerConfig& cfg) {
  std::vector<HookDispatcher::Hook> hooks;
  std::shared_ptr<HookCompletionQueue> cq;
  if (cfg.hooks_size() > 0) cq = std::make_shared<HookCompletionQueue>();
  for (const auto& hc : cfg.hooks()) {
    auto client = GrpcHookClient::Create(hc, cq);
    if (!client.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("hook ", hc.name(), ": ", client.status().message()));
    }
    hooks.push_back({hc, std::move(*client)});
  }
  hook::v1::ServerInfo info;
  info.set_instance_id(wire::RandomId(8));
  info.set_version(kVersion);
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) info.set_hostname(host);
  info.set_listen_addr(cfg.listen());
  info.set_replica_id(cfg.cluster().replica_id());
  return std::make_unique<HookDispatcher>(ex, cfg.hook_settings(), info, std::move(hooks));
}

}  // namespace reitunnel::server
