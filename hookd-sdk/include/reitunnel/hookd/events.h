#pragma once

// The events of the hook contract, named as in the server's hook config
// ("tunnel_open", "data", ...) and in DescribeResponse.events.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reitunnel::hookd {

enum class Event : uint8_t {
  kServerStart,
  kServerStop,
  kClientConnect,
  kClientDisconnect,
  kTunnelOpen,
  kTunnelClose,
  kData,  // StreamDataEvents
  kError,
  kVisitorConnect,
  kVisitorDisconnect,
};
inline constexpr int kEventCount = 10;

// "server_start", ..., "visitor_disconnect".
std::string_view EventName(Event event);
// The event named `name`, or nullopt for a name the contract does not have.
std::optional<Event> EventFromName(std::string_view name);

// A set of events; cheap to copy, usable in constant expressions.
class EventSet {
 public:
  constexpr EventSet() = default;

  static constexpr EventSet All() { return EventSet((1u << kEventCount) - 1); }

  constexpr EventSet& Add(Event event) {
    bits_ |= Bit(event);
    return *this;
  }
  constexpr EventSet& Add(EventSet other) {
    bits_ |= other.bits_;
    return *this;
  }
  constexpr bool Contains(Event event) const { return (bits_ & Bit(event)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr bool operator==(const EventSet&) const = default;

  // The names of the events in the set, in the order of the Event enum.
  std::vector<std::string> Names() const;

 private:
  constexpr explicit EventSet(uint32_t bits) : bits_(bits) {}
  static constexpr uint32_t Bit(Event event) { return 1u << static_cast<uint32_t>(event); }

  uint32_t bits_ = 0;
};

}  // namespace reitunnel::hookd
