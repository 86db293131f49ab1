#include "server/hooks/hook_client.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/config/hook_events.h"

namespace reitunnel::server {

namespace {
constexpr const auto& kNames = config::kHookEventNames;
static_assert(config::kHookEventNameCount == kHookEventCount);
}  // namespace

std::string_view HookEventName(HookEvent e) { return kNames[static_cast<int>(e)]; }

absl::StatusOr<HookEvent> ParseHookEvent(std::string_view name) {
  for (int i = 0; i < kHookEventCount; ++i) {
    if (kNames[i] == name) return static_cast<HookEvent>(i);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown hook event \"", std::string(name),
                   "\" (expected server_start, server_stop, client_connect, client_disconnect, "
                   "tunnel_open, tunnel_close, data, error, visitor_connect, visitor_disconnect)"));
}

bool IsBlocking(HookEvent e) {
  return e == HookEvent::kServerStart || e == HookEvent::kClientConnect ||
         e == HookEvent::kTunnelOpen || e == HookEvent::kVisitorConnect;
}

}  // namespace reitunnel::server
