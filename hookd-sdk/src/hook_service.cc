#include "hook_service.h"

#include <cstdio>
#include <exception>
#include <string>
#include <utility>

#include "absl/strings/str_join.h"

namespace reitunnel::hookd::internal {
namespace {

namespace pb = ::reitunnel::hook::v1;

// Hook code is user code: an exception escaping it must not take the whole
// service down (gRPC would answer UNKNOWN at best). For a blocking event it
// becomes "could not decide", so the server's failure policy applies.
template <typename F>
absl::Status CallBlocking(const char* event, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return absl::UnavailableError(std::string(event) + ": hook threw: " + e.what());
  } catch (...) {
    return absl::UnavailableError(std::string(event) + ": hook threw");
  }
}

template <typename F>
void CallNotify(const char* event, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "reitunnel-hookd: %s: hook threw: %s\n", event, e.what());
  } catch (...) {
    std::fprintf(stderr, "reitunnel-hookd: %s: hook threw\n", event);
  }
}

std::string MessageOr(const absl::Status& status, const char* fallback) {
  return status.message().empty() ? fallback : std::string(status.message());
}

}  // namespace

template <typename Ask>
grpc::Status HookServiceImpl::Decide(grpc::ServerContext* context, const char* event, Ask ask,
                                     pb::DecisionResponse* response) {
  std::vector<std::string> denials;
  std::vector<std::string> errors;
  for (Hook* hook : hooks_) {
    // Nobody waits for the answer any more (timeout, server gone): spare the
    // remaining hooks the work.
    if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    absl::Status status = CallBlocking(event, [&] { return ask(*hook); });
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
void HookServiceImpl::NotifyAll(const char* event, Notify notify) {
  for (Hook* hook : hooks_) CallNotify(event, [&] { notify(*hook); });
}

grpc::Status HookServiceImpl::OnServerStart(grpc::ServerContext* context,
                                            const pb::ServerStartRequest* request,
                                            pb::DecisionResponse* response) {
  return Decide(
      context, "OnServerStart", [request](Hook& h) { return h.OnServerStart(*request); }, response);
}

grpc::Status HookServiceImpl::OnClientConnect(grpc::ServerContext* context,
                                              const pb::ClientConnectRequest* request,
                                              pb::DecisionResponse* response) {
  return Decide(
      context, "OnClientConnect", [request](Hook& h) { return h.OnClientConnect(*request); },
      response);
}

grpc::Status HookServiceImpl::OnTunnelOpen(grpc::ServerContext* context,
                                           const pb::TunnelOpenRequest* request,
                                           pb::DecisionResponse* response) {
  return Decide(
      context, "OnTunnelOpen", [request](Hook& h) { return h.OnTunnelOpen(*request); }, response);
}

grpc::Status HookServiceImpl::OnVisitorConnect(grpc::ServerContext* context,
                                               const pb::VisitorConnectRequest* request,
                                               pb::DecisionResponse* response) {
  return Decide(
      context, "OnVisitorConnect", [request](Hook& h) { return h.OnVisitorConnect(*request); },
      response);
}

grpc::Status HookServiceImpl::OnServerStop(grpc::ServerContext*,
                                           const pb::ServerStopRequest* request, pb::Ack*) {
  NotifyAll("OnServerStop", [request](Hook& h) { h.OnServerStop(*request); });
  return grpc::Status::OK;
}

grpc::Status HookServiceImpl::OnClientDisconnect(grpc::ServerContext*,
                                                 const pb::ClientDisconnectRequest* request,
                                                 pb::Ack*) {
  NotifyAll("OnClientDisconnect", [request](Hook& h) { h.OnClientDisconnect(*request); });
  return grpc::Status::OK;
}

grpc::Status HookServiceImpl::OnTunnelClose(grpc::ServerContext*,
                                            const pb::TunnelCloseRequest* request, pb::Ack*) {
  NotifyAll("OnTunnelClose", [request](Hook& h) { h.OnTunnelClose(*request); });
  return grpc::Status::OK;
}

grpc::Status HookServiceImpl::OnError(grpc::ServerContext*, const pb::ErrorEvent* request,
                                      pb::Ack*) {
  NotifyAll("OnError", [request](Hook& h) { h.OnError(*request); });
  return grpc::Status::OK;
}

grpc::Status HookServiceImpl::OnVisitorDisconnect(grpc::ServerContext*,
                                                  const pb::VisitorDisconnectRequest* request,
                                                  pb::Ack*) {
  NotifyAll("OnVisitorDisconnect", [request](Hook& h) { h.OnVisitorDisconnect(*request); });
  return grpc::Status::OK;
}

grpc::Status HookServiceImpl::StreamDataEvents(grpc::ServerContext*,
                                               grpc::ServerReader<pb::DataBatch>* reader,
                                               pb::Ack*) {
  // Read() fails once the server half-closes the stream (the normal end) or
  // the call is cancelled (server gone, HookServer shutting down); either way
  // every batch that arrived has been dispatched.
  pb::DataBatch batch;
  while (reader->Read(&batch)) {
    NotifyAll("OnDataBatch", [&batch](Hook& h) { h.OnDataBatch(batch); });
  }
  return grpc::Status::OK;
}

}  // namespace reitunnel::hookd::internal
