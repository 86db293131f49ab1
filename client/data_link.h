#pragma once

// One data connection of a session ("link"), on the worker it was opened
// on: dial, prove the session key, then wait in the server's pool; for each
// StartRelay, dial the tunnel's local service and relay. With framed relay
// the link then goes back to the pool; without, it closes.

#include <memory>

#include "asio/awaitable.hpp"
#include "client/server_dialer.h"
#include "client/session.h"
#include "reitunnel/config/v1/agent.pb.h"

namespace reitunnel::client {

asio::awaitable<void> RunDataLink(std::shared_ptr<Session> s, const ServerDialer* dialer,
                                  std::chrono::milliseconds connect_timeout);

}  // namespace reitunnel::client
