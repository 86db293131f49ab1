#pragma once

// The one table of hook events: the config (`events:` names), the
// dispatcher (blocking or not, default subscription), the stats and the CLI
// all read it. A new event is one row here plus its RPC.

#include <array>
#include <optional>
#include <string_view>

namespace reitunnel::hooks {

enum class HookEvent {
  kServerStart,
  kServerStop,
  kClientConnect,
  kClientDisconnect,
  kTunnelOpen,
  kTunnelClose,
  kData,
  kError,
  kVisitorConnect,
  kVisitorDisconnect,
};

struct HookEventInfo {
  HookEvent event;
  // The name in config `events:` lists, metrics labels and Describe.
  std::string_view name;
  // Blocking events wait for a decision (ALLOW/DENY); the rest are
  // notifications delivered in order.
  bool blocking;
  // Subscribed when a hook's `events:` list is empty (visitor events are
  // opt-in: one RPC per visitor).
  bool default_subscribed;
};

inline constexpr std::array<HookEventInfo, 10> kHookEvents = {{
    {HookEvent::kServerStart, "server_start", true, true},
    {HookEvent::kServerStop, "server_stop", false, true},
    {HookEvent::kClientConnect, "client_connect", true, true},
    {HookEvent::kClientDisconnect, "client_disconnect", false, true},
    {HookEvent::kTunnelOpen, "tunnel_open", true, true},
    {HookEvent::kTunnelClose, "tunnel_close", false, true},
    {HookEvent::kData, "data", false, true},
    {HookEvent::kError, "error", false, true},
    {HookEvent::kVisitorConnect, "visitor_connect", true, false},
    {HookEvent::kVisitorDisconnect, "visitor_disconnect", false, false},
}};
inline constexpr int kHookEventCount = static_cast<int>(kHookEvents.size());

constexpr const HookEventInfo& Info(HookEvent e) { return kHookEvents[static_cast<int>(e)]; }
constexpr std::string_view HookEventName(HookEvent e) { return Info(e).name; }
constexpr bool IsBlocking(HookEvent e) { return Info(e).blocking; }

constexpr std::optional<HookEvent> FindHookEvent(std::string_view name) {
  for (const auto& i : kHookEvents) {
    if (i.name == name) return i.event;
  }
  return std::nullopt;
}

// "server_start, server_stop, ..." for error messages.
constexpr std::string_view kHookEventList =
    "server_start, server_stop, client_connect, client_disconnect, tunnel_open, tunnel_close, "
    "data, error, visitor_connect, visitor_disconnect";

static_assert([] {
  for (int i = 0; i < kHookEventCount; ++i) {
    if (static_cast<int>(kHookEvents[i].event) != i) return false;
  }
  return true;
}(), "kHookEvents rows must be in HookEvent order");

}  // namespace reitunnel::hooks
