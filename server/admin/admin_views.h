#pragma once

// The admin API's messages filled from the server's read-only views (session
// registry, atomic counters, hook stats, bans). Shared by the gRPC admin
// service and the web dashboard, so both show one schema and the same
// numbers. Nothing here waits for the data plane.

#include <string>
#include <vector>

#include "common/hooks/events.h"
#include "google/protobuf/message.h"
#include "reitunnel/admin/v1/admin.pb.h"
#include "server/registry/session_registry.h"

namespace reitunnel::server {

class Bans;
class HookDispatcher;
class Server;
class TunnelCore;
struct HookDecision;

void FillTunnel(const TunnelCore& t, admin::v1::Tunnel* out);
// A tunnel the agent asked for that is not open.
void FillRequested(const SessionEntry& e, const RequestedTunnel& r, admin::v1::Tunnel* out);
void FillClient(const SessionRegistry::SessionView& v, admin::v1::Client* out);

// Open tunnels of `views` (with the agent's request details), plus, with
// `include_not_open`, those requested but not open. Open tunnels first, by
// id; the others after them, by agent and name.
std::vector<admin::v1::Tunnel> CollectTunnels(const std::vector<SessionRegistry::SessionView>& views,
                                              bool include_not_open);

struct ListenerAddresses {
  std::string admin;
  std::string metrics;
};
void FillServerInfo(Server& server, const ListenerAddresses& addresses, admin::v1::ServerInfo* out);
void FillHooks(const HookDispatcher& hooks, admin::v1::ListHooksResponse* out);
void FillBans(const Bans& bans, admin::v1::ListBansResponse* out);

// A dispatcher observation as an admin Event (type, time, ids, decision and
// the hook request as payload). False for events operators are not shown
// (data batches, server start).
bool EventFromHook(hooks::HookEvent e, const google::protobuf::Message& m, const HookDecision& d,
                   admin::v1::Event* out);

}  // namespace reitunnel::server
