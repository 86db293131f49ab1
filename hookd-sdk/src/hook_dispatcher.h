#pragma once

// HookDispatcher turns one RPC of the hook contract into calls on the hooks
// that implement its event, and combines their answers by strategy. It is
// shared by both gRPC front ends (threaded_hook_service.h runs it on a pool
// thread, inline_hook_service.h on gRPC's callback thread), so both answer
// exactly alike.
//
// An event no hook implements answers gRPC UNIMPLEMENTED: the hook declared
// it does not implement it (Describe), and a server that calls it anyway must
// not read the answer as a decision.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <string>
#include <vector>

#include "reitunnel/hook/v1/hook.pb.h"
#include "reitunnel/hookd/events.h"
#include "reitunnel/hookd/hook.h"
#include "reitunnel/hookd/hook_server.h"

namespace reitunnel::hookd::internal {

struct HookEntry {
  Hook* hook;
  EventSet events;
};

class HookDispatcher {
 public:
  // `sdk` and `name` are reported in Describe.
  HookDispatcher(std::vector<HookEntry> hooks, Strategy strategy, std::string sdk,
                 std::string name);

  // The union of the hooks' events.
  EventSet events() const { return events_; }
  bool Implements(Event event) const { return events_.Contains(event); }

  // Blocking events: the status to answer, with `response` filled when OK.
  // `context` tells whether anyone still waits for the answer.
  grpc::Status OnServerStart(const grpc::ServerContextBase& context,
                             const ::reitunnel::hook::v1::ServerStartRequest& request,
                             ::reitunnel::hook::v1::DecisionResponse* response) const;
  grpc::Status OnClientConnect(const grpc::ServerContextBase& context,
                               const ::reitunnel::hook::v1::ClientConnectRequest& request,
                               ::reitunnel::hook::v1::DecisionResponse* response) const;
  grpc::Status OnTunnelOpen(const grpc::ServerContextBase& context,
                            const ::reitunnel::hook::v1::TunnelOpenRequest& request,
                            ::reitunnel::hook::v1::DecisionResponse* response) const;
  grpc::Status OnVisitorConnect(const grpc::ServerContextBase& context,
                                const ::reitunnel::hook::v1::VisitorConnectRequest& request,
                                ::reitunnel::hook::v1::DecisionResponse* response) const;

  // Notifications.
  grpc::Status OnServerStop(const ::reitunnel::hook::v1::ServerStopRequest& request) const;
  grpc::Status OnClientDisconnect(
      const ::reitunnel::hook::v1::ClientDisconnectRequest& request) const;
  grpc::Status OnTunnelClose(const ::reitunnel::hook::v1::TunnelCloseRequest& request) const;
  grpc::Status OnError(const ::reitunnel::hook::v1::ErrorEvent& event) const;
  grpc::Status OnVisitorDisconnect(
      const ::reitunnel::hook::v1::VisitorDisconnectRequest& request) const;

  // The data stream: StartDataStream() is the status to end it with at once
  // (UNIMPLEMENTED) or OK to read it, then OnDataBatch() for each batch.
  grpc::Status StartDataStream() const;
  void OnDataBatch(const ::reitunnel::hook::v1::DataBatch& batch) const;

  void Describe(::reitunnel::hook::v1::DescribeResponse* response) const;

 private:
  template <typename Ask>
  grpc::Status Decide(const grpc::ServerContextBase& context, Event event, const char* rpc, Ask ask,
                      ::reitunnel::hook::v1::DecisionResponse* response) const;
  template <typename Notify>
  grpc::Status NotifyAll(Event event, const char* rpc, Notify notify) const;
  // UNIMPLEMENTED for `rpc`; warns once per event, since a server that calls
  // what Describe left out is older than Describe or misconfigured.
  grpc::Status Unimplemented(Event event, const char* rpc) const;

  const std::vector<HookEntry> hooks_;
  const Strategy strategy_;
  const EventSet events_;
  const std::string sdk_;
  const std::string name_;
  // Bit per Event: an UNIMPLEMENTED warning was printed.
  mutable std::atomic<uint32_t> warned_{0};
};

}  // namespace reitunnel::hookd::internal
