#pragma once

// OverriddenEvents<T>(): the events whose Hook methods class T overrides,
// computed at compile time, so that HookServer can answer Describe without
// the hook author listing them.
//
// How: &T::OnTunnelOpen names the declaration that T sees. When no class
// between Hook and T overrides the method, that is Hook's own and the pointer
// has type `absl::Status (Hook::*)(const TunnelOpenRequest&)`; an override in
// T, or in any class between Hook and T, changes the class in that type. An
// override that is private or protected (hook classes often override in
// their private section) makes &T::OnTunnelOpen ill-formed from here, which
// the concept below reads as "overridden" too: Hook's own method is public,
// so an inaccessible name must be someone else's declaration. This is
// standard C++20 (no RTTI, no compiler extension).

#include <concepts>
#include <type_traits>

#include "reitunnel/hookd/events.h"
#include "reitunnel/hookd/hook.h"

namespace reitunnel::hookd {
namespace internal {

template <typename T>
concept InheritsOnServerStart = requires {
  requires std::is_same_v<decltype(&T::OnServerStart), decltype(&Hook::OnServerStart)>;
};
template <typename T>
concept InheritsOnServerStop = requires {
  requires std::is_same_v<decltype(&T::OnServerStop), decltype(&Hook::OnServerStop)>;
};
template <typename T>
concept InheritsOnClientConnect = requires {
  requires std::is_same_v<decltype(&T::OnClientConnect), decltype(&Hook::OnClientConnect)>;
};
template <typename T>
concept InheritsOnClientDisconnect = requires {
  requires std::is_same_v<decltype(&T::OnClientDisconnect), decltype(&Hook::OnClientDisconnect)>;
};
template <typename T>
concept InheritsOnTunnelOpen = requires {
  requires std::is_same_v<decltype(&T::OnTunnelOpen), decltype(&Hook::OnTunnelOpen)>;
};
template <typename T>
concept InheritsOnTunnelClose = requires {
  requires std::is_same_v<decltype(&T::OnTunnelClose), decltype(&Hook::OnTunnelClose)>;
};
template <typename T>
concept InheritsOnDataBatch = requires {
  requires std::is_same_v<decltype(&T::OnDataBatch), decltype(&Hook::OnDataBatch)>;
};
template <typename T>
concept InheritsOnDataSent = requires {
  requires std::is_same_v<decltype(&T::OnDataSent), decltype(&Hook::OnDataSent)>;
};
template <typename T>
concept InheritsOnDataReceived = requires {
  requires std::is_same_v<decltype(&T::OnDataReceived), decltype(&Hook::OnDataReceived)>;
};
template <typename T>
concept InheritsOnError = requires {
  requires std::is_same_v<decltype(&T::OnError), decltype(&Hook::OnError)>;
};
template <typename T>
concept InheritsOnVisitorConnect = requires {
  requires std::is_same_v<decltype(&T::OnVisitorConnect), decltype(&Hook::OnVisitorConnect)>;
};
template <typename T>
concept InheritsOnVisitorDisconnect = requires {
  requires std::is_same_v<decltype(&T::OnVisitorDisconnect), decltype(&Hook::OnVisitorDisconnect)>;
};

}  // namespace internal

template <typename T>
requires std::derived_from<T, Hook>
constexpr EventSet OverriddenEvents() {
  EventSet events;
  if constexpr (!internal::InheritsOnServerStart<T>) events.Add(Event::kServerStart);
  if constexpr (!internal::InheritsOnServerStop<T>) events.Add(Event::kServerStop);
  if constexpr (!internal::InheritsOnClientConnect<T>) events.Add(Event::kClientConnect);
  if constexpr (!internal::InheritsOnClientDisconnect<T>) events.Add(Event::kClientDisconnect);
  if constexpr (!internal::InheritsOnTunnelOpen<T>) events.Add(Event::kTunnelOpen);
  if constexpr (!internal::InheritsOnTunnelClose<T>) events.Add(Event::kTunnelClose);
  // The default OnDataBatch feeds OnDataSent/OnDataReceived, so any of the
  // three means the hook wants the data stream.
  if constexpr (!internal::InheritsOnDataBatch<T> || !internal::InheritsOnDataSent<T> ||
                !internal::InheritsOnDataReceived<T>) {
    events.Add(Event::kData);
  }
  if constexpr (!internal::InheritsOnError<T>) events.Add(Event::kError);
  if constexpr (!internal::InheritsOnVisitorConnect<T>) events.Add(Event::kVisitorConnect);
  if constexpr (!internal::InheritsOnVisitorDisconnect<T>) events.Add(Event::kVisitorDisconnect);
  return events;
}

}  // namespace reitunnel::hookd
