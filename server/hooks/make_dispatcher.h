#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asio/any_io_executor.hpp"
#include "reitunnel/config/v1/server.pb.h"
#include "server/hooks/hook_dispatcher.h"

namespace reitunnel::server {

// Fills hook defaults (timeout, policy, queue) and validates strategy,
// policies and event names. An empty `events` list stays empty: it means
// "the default events, narrowed to what the hook implements".
absl::Status NormalizeHookConfig(config::v1::ServerConfig* cfg);

// A dispatcher over gRPC hook clients for cfg.hooks(), on `ex` (the control
// executor).
absl::StatusOr<std::unique_ptr<HookDispatcher>> MakeHookDispatcher(
    asio::any_io_executor ex, const config::v1::ServerConfig& cfg);

}  // namespace reitunnel::server
