#pragma once

// Per-agent port policy (config agents[].allowed_ports), applied when the
// agent asks for a tunnel, before any port is reserved.

#include <cstdint>
#include <optional>
#include <string>

#include "server/ports/port_allocator.h"
#include "server/registry/agent_info.h"

namespace reitunnel::server {

// Nothing when the agent may use `*requested` (no policy, or a port the
// policy lists). For 0 ("server picks") under a policy, *requested becomes a
// free port of the policy within the server's range, probed in random order
// (the reservation that follows may still lose a race: PORT_IN_USE, which
// the agent retries). Otherwise the refusal to send: DENIED for a port the
// identity may not use, LIMIT when none of its ports is free.
std::optional<Refusal> ApplyAllowedPorts(const AgentInfo& info, const PortAllocator& ports,
                                         uint32_t* requested);

// "20080, 20090-20099": for refusals and operators.
std::string AllowedPortsString(const AgentInfo& info);

}  // namespace reitunnel::server
