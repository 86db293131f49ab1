#pragma once

// Table rendering of admin API events, one line each (exposed for tests).

#include <string>
#include <vector>

#include "reitunnel/admin/v1/admin.pb.h"

namespace reitunnel::cli {

// The event types the server sends (admin.proto, Event.type).
const std::vector<std::string>& EventTypes();

// "TIME  TYPE  CLIENT  TUNNEL  DETAIL" with the widths EventLine uses.
std::string EventHeader();

// One line, no newline: time, type, client, tunnel and a detail such as
// `name=web port=20080 allowed` or `reason="closed by admin" in=1.2 KiB`.
std::string EventLine(const admin::v1::Event& event);

}  // namespace reitunnel::cli
