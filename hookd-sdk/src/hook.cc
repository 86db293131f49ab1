#include "reitunnel/hookd/hook.h"

namespace reitunnel::hookd {

std::optional<std::vector<std::string>> Hook::ImplementedEvents() const { return std::nullopt; }

// Reached only when a hook lists an event in ImplementedEvents() without
// overriding its method: no decision, so the server's failure policy applies.
absl::Status Hook::OnServerStart(const ServerStartRequest&) {
  return CannotDecide("OnServerStart is not implemented by this hook");
}
absl::Status Hook::OnClientConnect(const ClientConnectRequest&) {
  return CannotDecide("OnClientConnect is not implemented by this hook");
}
absl::Status Hook::OnTunnelOpen(const TunnelOpenRequest&) {
  return CannotDecide("OnTunnelOpen is not implemented by this hook");
}
absl::Status Hook::OnVisitorConnect(const VisitorConnectRequest&) {
  return CannotDecide("OnVisitorConnect is not implemented by this hook");
}

void Hook::OnServerStop(const ServerStopRequest&) {}
void Hook::OnClientDisconnect(const ClientDisconnectRequest&) {}
void Hook::OnTunnelClose(const TunnelCloseRequest&) {}
void Hook::OnError(const ErrorEvent&) {}
void Hook::OnVisitorDisconnect(const VisitorDisconnectRequest&) {}

void Hook::OnDataBatch(const DataBatch& batch) {
  for (const TunnelTraffic& traffic : batch.tunnels()) {
    if (traffic.bytes_sent() > 0) OnDataSent(traffic);
    if (traffic.bytes_received() > 0) OnDataReceived(traffic);
  }
}
void Hook::OnDataSent(const TunnelTraffic&) {}
void Hook::OnDataReceived(const TunnelTraffic&) {}

absl::Status Deny(std::string_view reason) {
  // PERMISSION_DENIED reads right in logs; any non-OK code other than
  // UNAVAILABLE would deny the same way.
  return absl::PermissionDeniedError(absl::string_view(reason.data(), reason.size()));
}

absl::Status CannotDecide(std::string_view why) {
  return absl::UnavailableError(absl::string_view(why.data(), why.size()));
}

std::optional<std::string> FindMetadata(const Metadata& metadata, std::string_view key) {
  auto it = metadata.find(std::string(key));
  if (it == metadata.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> FindLabel(const Metadata& metadata, std::string_view key) {
  return FindMetadata(metadata, std::string("label.").append(key));
}

}  // namespace reitunnel::hookd
