#pragma once

#include "reitunnel/config/v1/server.pb.h"

namespace reitunnel::server {

// Defaults of the data-plane settings the generic config loader leaves at
// zero (limits of admission and throttling, the watchdog, workers).
void FillDataPlaneDefaults(config::v1::ServerConfig* cfg);

}  // namespace reitunnel::server
