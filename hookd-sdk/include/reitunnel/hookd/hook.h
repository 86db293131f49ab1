#pragma once

// The Hook base class: one virtual per event of the hook contract
// (proto/reitunnel/hook/v1/hook.proto). A hook overrides only the events it
// cares about, and HookServer tells the server which ones (the Describe RPC):
// the server then sends this hook nothing else. HookServer sees the
// overrides at compile time (AddHook is a template over the hook's type); a
// hook that decides at run time overrides ImplementedEvents() instead.
//
// Blocking events return absl::Status, read as three states:
//   OK                      ALLOW.
//   kUnavailable            ERROR: this hook could not decide (its database is
//                           down, ...). The server receives gRPC UNAVAILABLE and
//                           its failure policy for this hook (fail_closed or
//                           fail_open) decides, exactly as for a timeout.
//   any other non-OK code   DENY, with the status message as the reason shown
//                           to the agent (keep secrets out of it).
// Allow(), Deny() and CannotDecide() below spell these out. The base class's
// own blocking methods answer CannotDecide: an event a hook does not
// implement is never an allow.
//
// Thread safety: the server calls a hook from several gRPC threads at once
// (a tunnel opening while a data batch arrives, two agents connecting, ...).
// Implementations must be thread-safe: guard mutable state with a mutex.
//
// Hook code may block (a database lookup), but not for long: the server waits
// at most its configured timeout for a blocking answer and then applies the
// failure policy, and a hook stuck forever also delays HookServer shutdown.
// Hook code must never block when the HookServer runs it inline
// (Execution::kInline).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "reitunnel/hook/v1/hook.pb.h"

namespace reitunnel::hookd {

// The request messages, under shorter names.
using ServerStartRequest = ::reitunnel::hook::v1::ServerStartRequest;
using ServerStopRequest = ::reitunnel::hook::v1::ServerStopRequest;
using ClientConnectRequest = ::reitunnel::hook::v1::ClientConnectRequest;
using ClientDisconnectRequest = ::reitunnel::hook::v1::ClientDisconnectRequest;
using TunnelOpenRequest = ::reitunnel::hook::v1::TunnelOpenRequest;
using TunnelCloseRequest = ::reitunnel::hook::v1::TunnelCloseRequest;
using DataBatch = ::reitunnel::hook::v1::DataBatch;
using TunnelTraffic = ::reitunnel::hook::v1::TunnelTraffic;
using ErrorEvent = ::reitunnel::hook::v1::ErrorEvent;
using VisitorConnectRequest = ::reitunnel::hook::v1::VisitorConnectRequest;
using VisitorDisconnectRequest = ::reitunnel::hook::v1::VisitorDisconnectRequest;
using Metadata = ::google::protobuf::Map<std::string, std::string>;

class Hook {
 public:
  virtual ~Hook() = default;

  // The events this hook implements, by name ("tunnel_open", "data", ...; see
  // events.h), when they are only known at run time. nullopt (the default)
  // means: the events whose methods the hook's class overrides, as seen by
  // HookServer::AddHook. A hook that lists an event it does not override
  // gets the base class's answers (CannotDecide for blocking events).
  virtual std::optional<std::vector<std::string>> ImplementedEvents() const;

  // Blocking events. See the file comment for what the returned status means.
  virtual absl::Status OnServerStart(const ServerStartRequest& request);
  virtual absl::Status OnClientConnect(const ClientConnectRequest& request);
  virtual absl::Status OnTunnelOpen(const TunnelOpenRequest& request);
  // Only sent by servers that subscribe this hook to "visitor_connect".
  virtual absl::Status OnVisitorConnect(const VisitorConnectRequest& request);

  // Notifications.
  virtual void OnServerStop(const ServerStopRequest& request);
  virtual void OnClientDisconnect(const ClientDisconnectRequest& request);
  virtual void OnTunnelClose(const TunnelCloseRequest& request);
  virtual void OnError(const ErrorEvent& event);
  virtual void OnVisitorDisconnect(const VisitorDisconnectRequest& request);

  // Traffic. The server streams one DataBatch per flush window. The default
  // OnDataBatch calls OnDataSent for every tunnel entry with bytes_sent > 0
  // and OnDataReceived for every entry with bytes_received > 0, in batch
  // order, so a hook overrides either OnDataBatch (to see sequence numbers and
  // windows) or the per-tunnel conveniences, not both.
  virtual void OnDataBatch(const DataBatch& batch);
  // Bytes from the agent's service back to visitors since the last batch.
  virtual void OnDataSent(const TunnelTraffic& traffic);
  // Bytes from visitors towards the agent's service since the last batch.
  virtual void OnDataReceived(const TunnelTraffic& traffic);
};

// ALLOW.
inline absl::Status Allow() { return absl::OkStatus(); }
// DENY with `reason`, which the server shows to the agent (truncated to 512
// bytes).
absl::Status Deny(std::string_view reason);
// ERROR: no decision; the server's failure policy for this hook applies.
// `why` is logged by the server.
absl::Status CannotDecide(std::string_view why);

// The value of metadata[key], if present.
std::optional<std::string> FindMetadata(const Metadata& metadata, std::string_view key);
// The agent label `key` (carried as metadata "label.<key>"), if present.
std::optional<std::string> FindLabel(const Metadata& metadata, std::string_view key);

}  // namespace reitunnel::hookd
