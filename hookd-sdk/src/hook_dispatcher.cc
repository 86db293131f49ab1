#include "hook_dispatcher.h"

#include <cstdio>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace reitunnel::hookd::internal {
namespace {

namespace pb = ::reitunnel::hook::v1;

// Hook code is user code: an exception escaping it must not take the whole
// service down (gRPC would answer UNKNOWN at best). For a blocking event it
// becomes "could not decide", so the server's failure policy applies.
template <typename F>
absl::Status CallBlocking(const char* rpc, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(rpc, ": hook threw: ", e.what()));
  } catch (...) {
    return absl::UnavailableError(absl::StrCat(rpc, ": hook threw"));
  }
}

template <typename F>
void CallNotify(const char* rpc, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "reitunnel-hookd: %s: hook threw: %s\n", rpc, e.what());
  } catch (...) {
    std::fprintf(stderr, "reitunnel-hookd: %s: hook threw\n", rpc);
  }
}

std::string MessageOr(const absl::Status& status, const char* fallback) {
  return status.message().empty() ? fallback : std::string(status.message());
}

EventSet Union(const std::vector<HookEntry>& hooks) {
  EventSet events;
  for (const HookEntry& entry : hooks) events.Add(entry.events);
  return events;
}

}  // namespace

HookDispatcher::HookDispatcher(std::vector<HookEntry> hooks, Strategy strategy, std::string sdk,
                               std::string name)
    : hooks_(std::move(hooks)),
      strategy_(strategy),
      events_(Union(hooks_)),
      sdk_(std::move(sdk)),
      name_(std::move(name)) {}

grpc::Status HookDispatcher::Unimplemented(Event event, const char* rpc) const {
  const uint32_t bit = 1u << static_cast<uint32_t>(event);
  if ((warned_.fetch_or(bit) & bit) == 0) {
    std::fprintf(stderr,
                 "reitunnel-hookd: the server called %s, which no hook of this service "
                 "implements (answered UNIMPLEMENTED; Describe does not list \"%s\")\n",
                 rpc, std::string(EventName(event)).c_str());
  }
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      absl::StrCat(rpc, " is not implemented by this hook service"));
}

template <typename Ask>
grpc::Status HookDispatcher::Decide(const grpc::ServerContextBase& context, Event event,
                                    const char* rpc, Ask ask,
                                    pb::DecisionResponse* response) const {
  if (!Implements(event)) return Unimplemented(event, rpc);
  std::vector<std::string> denials;
  std::vector<std::string> errors;
  for (const HookEntry& entry : hooks_) {
    // A hook without the event has no say: it neither allows nor denies.
    if (!entry.events.Contains(event)) continue;
    // Nobody waits for the answer any more (timeout, server gone): spare the
    // remaining hooks the work.
    if (context.IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    absl::Status status = CallBlocking(rpc, [&] { return ask(*entry.hook); });
    if (status.ok()) continue;
    if (status.code() == absl::StatusCode::kUnavailable) {
      errors.push_back(MessageOr(status, "hook could not decide"));
    } else {
      denials.push_back(MessageOr(status, "denied by hook"));
    }
    if (strategy_ == Strategy::kStopOnError) break;
  }
  // A deny is final whatever an undecided hook would have said; only without
  // one does an error leave the decision to the server's failure policy.
  if (!denials.empty()) {
    response->set_decision(pb::DENY);
    response->set_reason(absl::StrJoin(denials, "; "));
    return grpc::Status::OK;
  }
  if (!errors.empty()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, absl::StrJoin(errors, "; "));
  }
  response->set_decision(pb::ALLOW);
  return grpc::Status::OK;
}

template <typename Notify>
grpc::Status HookDispatcher::NotifyAll(Event event, const char* rpc, Notify notify) const {
  if (!Implements(event)) return Unimplemented(event, rpc);
  for (const HookEntry& entry : hooks_) {
    if (entry.events.Contains(event)) CallNotify(rpc, [&] { notify(*entry.hook); });
  }
  return grpc::Status::OK;
}

grpc::Status HookDispatcher::OnServerStart(const grpc::ServerContextBase& context,
                                           const pb::ServerStartRequest& request,
                                           pb::DecisionResponse* response) const {
  return Decide(
      context, Event::kServerStart, "OnServerStart",
      [&request](Hook& h) { return h.OnServerStart(request); }, response);
}

grpc::Status HookDispatcher::OnClientConnect(const grpc::ServerContextBase& context,
                                             const pb::ClientConnectRequest& request,
                                             pb::DecisionResponse* response) const {
  return Decide(
      context, Event::kClientConnect, "OnClientConnect",
      [&request](Hook& h) { return h.OnClientConnect(request); }, response);
}

grpc::Status HookDispatcher::OnTunnelOpen(const grpc::ServerContextBase& context,
                                          const pb::TunnelOpenRequest& request,
                                          pb::DecisionResponse* response) const {
  return Decide(
      context, Event::kTunnelOpen, "OnTunnelOpen",
      [&request](Hook& h) { return h.OnTunnelOpen(request); }, response);
}

grpc::Status HookDispatcher::OnVisitorConnect(const grpc::ServerContextBase& context,
                                              const pb::VisitorConnectRequest& request,
                                              pb::DecisionResponse* response) const {
  return Decide(
      context, Event::kVisitorConnect, "OnVisitorConnect",
      [&request](Hook& h) { return h.OnVisitorConnect(request); }, response);
}

grpc::Status HookDispatcher::OnServerStop(const pb::ServerStopRequest& request) const {
  return NotifyAll(Event::kServerStop, "OnServerStop",
                   [&request](Hook& h) { h.OnServerStop(request); });
}

grpc::Status HookDispatcher::OnClientDisconnect(const pb::ClientDisconnectRequest& request) const {
  return NotifyAll(Event::kClientDisconnect, "OnClientDisconnect",
                   [&request](Hook& h) { h.OnClientDisconnect(request); });
}

grpc::Status HookDispatcher::OnTunnelClose(const pb::TunnelCloseRequest& request) const {
  return NotifyAll(Event::kTunnelClose, "OnTunnelClose",
                   [&request](Hook& h) { h.OnTunnelClose(request); });
}

grpc::Status HookDispatcher::OnError(const pb::ErrorEvent& event) const {
  return NotifyAll(Event::kError, "OnError", [&event](Hook& h) { h.OnError(event); });
}

grpc::Status HookDispatcher::OnVisitorDisconnect(
    const pb::VisitorDisconnectRequest& request) const {
  return NotifyAll(Event::kVisitorDisconnect, "OnVisitorDisconnect",
                   [&request](Hook& h) { h.OnVisitorDisconnect(request); });
}

grpc::Status HookDispatcher::StartDataStream() const {
  if (!Implements(Event::kData)) return Unimplemented(Event::kData, "StreamDataEvents");
  return grpc::Status::OK;
}

void HookDispatcher::OnDataBatch(const pb::DataBatch& batch) const {
  for (const HookEntry& entry : hooks_) {
    if (entry.events.Contains(Event::kData)) {
      CallNotify("OnDataBatch", [&] { entry.hook->OnDataBatch(batch); });
    }
  }
}

void HookDispatcher::Describe(pb::DescribeResponse* response) const {
  for (std::string& name : events_.Names()) response->add_events(std::move(name));
  response->set_sdk(sdk_);
  response->set_name(name_);
}

}  // namespace reitunnel::hookd::internal
