#pragma once

// Everything a hook service needs, in one include.

#include "reitunnel/hookd/events.h"       // IWYU pragma: export
#include "reitunnel/hookd/hook.h"         // IWYU pragma: export
#include "reitunnel/hookd/hook_server.h"  // IWYU pragma: export
#include "reitunnel/hookd/main.h"         // IWYU pragma: export
