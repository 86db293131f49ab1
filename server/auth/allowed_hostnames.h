#pragma once

// Per-agent host name policy (config agents[].allowed_hostnames), applied
// when the agent asks for an http: or tls: tunnel, before the name is
// reserved or a hook is asked.

#include <optional>
#include <string>
#include <string_view>

#include "server/ports/port_allocator.h"
#include "server/registry/agent_info.h"

namespace reitunnel::server {

// Whether the canonical pattern `allowed` ("app.example.com" or
// "*.example.com") lets an agent claim the canonical pattern `claim`: an
// exact name covers itself only; "*.d" covers every name below d and the
// wildcards "*.d" and "*.x.d".
bool HostnameCovers(std::string_view allowed, std::string_view claim);

// Nothing when the agent may claim `claim` (no policy, or a covering
// entry); else the DENIED refusal to send.
std::optional<Refusal> ApplyAllowedHostnames(const AgentInfo& info, const std::string& claim);

}  // namespace reitunnel::server
