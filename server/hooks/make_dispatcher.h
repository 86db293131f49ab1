#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "asio/any_io_executor.hpp"
#include "reitunnel/config/v1/server.pb.h"
#include "server/hooks/hook_dispatcher.h"

namespace reitunnel::server {

// Fills hook defaults into `cfg` (timeouts, policy, events, queue sizes,
// strategy, flush interval) and validates them; errors name the config path
// ("hooks[1].failure_policy: ...").
absl::Status NormalizeHookConfig(config::v1::ServerConfig* cfg);

// One GrpcHookClient per configured hook. With no hook configured the
// dispatcher still serves event watchers (admin WatchEvents).
absl::StatusOr<std::unique_ptr<HookDispatcher>> MakeHookDispatcher(
    asio::any_io_executor ex, const config::v1::ServerConfig& cfg);

}  // namespace reitunnel::server
