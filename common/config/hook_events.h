#pragma once

// The event names a hook can subscribe to (config `events:`), in the order
// of server::HookEvent. One list for config validation and the dispatcher.

#include <string_view>

namespace reitunnel::config {

inline constexpr std::string_view kHookEventNames[] = {
    "server_start", "server_stop", "client_connect", "client_disconnect", "tunnel_open",
    "tunnel_close", "data",        "error",          "visitor_connect",   "visitor_disconnect",
};
inline constexpr int kHookEventNameCount =
    static_cast<int>(sizeof(kHookEventNames) / sizeof(kHookEventNames[0]));

}  // namespace reitunnel::config
