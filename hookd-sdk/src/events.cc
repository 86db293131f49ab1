#include "reitunnel/hookd/events.h"

#include <array>

namespace reitunnel::hookd {
namespace {

// Indexed by Event.
constexpr std::array<std::string_view, kEventCount> kNames = {
    "server_start", "server_stop", "client_connect", "client_disconnect", "tunnel_open",
    "tunnel_close", "data",        "error",          "visitor_connect",   "visitor_disconnect",
};

}  // namespace

std::string_view EventName(Event event) { return kNames[static_cast<size_t>(event)]; }

std::optional<Event> EventFromName(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<Event>(i);
  }
  return std::nullopt;
}

std::vector<std::string> EventSet::Names() const {
  std::vector<std::string> names;
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (Contains(static_cast<Event>(i))) names.emplace_back(kNames[i]);
  }
  return names;
}

}  // namespace reitunnel::hookd
