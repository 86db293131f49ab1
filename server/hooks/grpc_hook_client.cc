#include "server/hooks/grpc_hook_client.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/client_callback.h"

namespace reitunnel::server {

namespace hv1 = hook::v1;

struct GrpcHookClient::Core {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<hv1::HookService::Stub> stub;
  std::mutex mu;
  std::set<grpc::ClientContext*> outstanding;  // guarded by mu
  std::set<DataStream*> streams;               // guarded by mu; alive until OnDone
  bool cancelled = false;                      // guarded by mu

  void Track(grpc::ClientContext* ctx) {
    std::lock_guard<std::mutex> l(mu);
    outstanding.insert(ctx);
    if (cancelled) ctx->TryCancel();
  }
  void Untrack(grpc::ClientContext* ctx) {
    std::lock_guard<std::mutex> l(mu);
    outstanding.erase(ctx);
  }
};

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One blocking decision on the completion queue.
struct DecideCall : HookCompletionQueue::Tag {
  std::shared_ptr<GrpcHookClient::Core> core;
  grpc::ClientContext ctx;
  hv1::DecisionResponse resp;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<hv1::DecisionResponse>> reader;
  HookClient::DecisionCallback done;
  // Held by the starting thread across StartCall and Finish, taken by Done:
  // a call that fails at once can complete on the queue's thread while the
  // starter is still inside Finish. gRPC orders the two internally, out of
  // ThreadSanitizer's sight (uninstrumented library; Publish covers what
  // was written before the hand-off, not what Finish reads after it); the
  // mutex makes the order visible at the cost of one uncontended lock.
  std::mutex starting;

  void Done(bool) override {
    { std::lock_guard<std::mutex> l(starting); }
    core->Untrack(&ctx);
    done(status, std::move(resp));
    delete this;
  }
};

// One unary call on the callback API: owns what must outlive the call.
template <typename Req, typename Resp>
struct UnaryCall {
  grpc::ClientContext ctx;
  Req req;
  Resp resp;
};

}  // namespace

// The StreamDataEvents stream. Lives from the first write until OnDone; a
// hold keeps OnDone from running while the owner may still call into it, so
// the owner decides when it is safe to let it finish (Finish()).
class GrpcHookClient::DataStream : public grpc::ClientWriteReactor<hv1::DataBatch> {
 public:
  explicit DataStream(std::shared_ptr<Core> core) : core_(std::move(core)) {
    {
      std::lock_guard<std::mutex> l(core_->mu);
      core_->streams.insert(this);
      if (core_->cancelled) ctx_.TryCancel();
    }
    core_->stub->async()->StreamDataEvents(&ctx_, &ack_, this);
    AddHold();
    StartCall();
  }

  void Write(const hv1::DataBatch& batch, DoneCallback done) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (broken_) {
        done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "data stream broken"));
        return;
      }
      pending_write_ = std::move(done);
    }
    batch_ = batch;
    StartWrite(&batch_);
  }

  // Half-closes (if healthy), drops the hold and reports the final status.
  void Finish(DoneCallback done) {
    {
      std::lock_guard<std::mutex> l(mu_);
      finish_ = std::move(done);
      if (!broken_) StartWritesDone();
    }
    RemoveHold();
  }

  void Cancel() { ctx_.TryCancel(); }
  bool broken() {
    std::lock_guard<std::mutex> l(mu_);
    return broken_;
  }

  void OnWriteDone(bool ok) override {
    DoneCallback cb;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!ok) broken_ = true;
      cb = std::move(pending_write_);
      pending_write_ = nullptr;
    }
    if (cb) {
      cb(ok ? grpc::Status::OK
            : grpc::Status(grpc::StatusCode::UNAVAILABLE, "data stream write failed"));
    }
  }

  void OnDone(const grpc::Status& s) override {
    DoneCallback cb;
    {
      std::lock_guard<std::mutex> l(mu_);
      cb = std::move(finish_);
    }
    if (cb) cb(s);
    {
      std::lock_guard<std::mutex> l(core_->mu);
      core_->streams.erase(this);
    }
    delete this;
  }

 private:
  std::shared_ptr<Core> core_;
  grpc::ClientContext ctx_;
  hv1::Ack ack_;
  hv1::DataBatch batch_;
  std::mutex mu_;
  bool broken_ = false;
  DoneCallback pending_write_;
  DoneCallback finish_;
};

absl::StatusOr<std::unique_ptr<GrpcHookClient>> GrpcHookClient::Create(
    const config::v1::HookConfig& cfg, std::shared_ptr<HookCompletionQueue> cq) {
  grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("round_robin");
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  const auto& tls = cfg.tls();
  if (tls.enabled() || !tls.ca_file().empty() || !tls.cert_file().empty()) {
    grpc::SslCredentialsOptions o;
    if (!tls.ca_file().empty()) {
      auto ca = ReadFile(tls.ca_file());
      if (!ca.ok()) return ca.status();
      o.pem_root_certs = *ca;
    }
    if (!tls.cert_file().empty()) {
      auto cert = ReadFile(tls.cert_file());
      if (!cert.ok()) return cert.status();
      auto key = ReadFile(tls.key_file());
      if (!key.ok()) return key.status();
      o.pem_cert_chain = *cert;
      o.pem_private_key = *key;
    }
    if (!tls.server_name().empty()) args.SetSslTargetNameOverride(tls.server_name());
    creds = grpc::SslCredentials(o);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  auto channel = grpc::CreateCustomChannel(cfg.address(), creds, args);
  if (!channel) return absl::InvalidArgumentError(absl::StrCat("bad hook address for ", cfg.name()));
  // Connect eagerly so the first blocking call doesn't pay for it.
  channel->GetState(/*try_to_connect=*/true);
  return std::unique_ptr<GrpcHookClient>(new GrpcHookClient(std::move(channel), std::move(cq)));
}

GrpcHookClient::GrpcHookClient(std::shared_ptr<grpc::Channel> channel,
                               std::shared_ptr<HookCompletionQueue> cq)
    : core_(std::make_shared<Core>()), cq_(std::move(cq)) {
  core_->channel = std::move(channel);
  core_->stub = hv1::HookService::NewStub(core_->channel);
}

GrpcHookClient::~GrpcHookClient() {
  if (stream_) {
    stream_->Finish(nullptr);
    stream_ = nullptr;
  }
  // Calls and reactors hold the core; cancelling makes them finish soon,
  // and none of them refers back to this object.
  CancelAll();
}

void GrpcHookClient::CancelAll() {
  std::lock_guard<std::mutex> l(core_->mu);
  core_->cancelled = true;
  for (auto* ctx : core_->outstanding) ctx->TryCancel();
  // Streams too: one the hook stopped reading would otherwise never finish.
  for (auto* s : core_->streams) s->Cancel();
}

std::string GrpcHookClient::State() {
  switch (core_->channel->GetState(false)) {
    case GRPC_CHANNEL_READY: return "ready";
    case GRPC_CHANNEL_CONNECTING: return "connecting";
    case GRPC_CHANNEL_TRANSIENT_FAILURE: return "failing";
    case GRPC_CHANNEL_IDLE: return "idle";
    case GRPC_CHANNEL_SHUTDOWN: return "shutdown";
  }
  return "unknown";
}

void GrpcHookClient::Decide(HookEvent event, const google::protobuf::Message& request,
                            std::chrono::milliseconds timeout, DecisionCallback done) {
  auto* call = new DecideCall;
  call->core = core_;
  call->done = std::move(done);
  call->ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  auto* stub = core_->stub.get();
  auto* cq = cq_->cq();
  switch (event) {
    case HookEvent::kServerStart:
      call->reader = stub->PrepareAsyncOnServerStart(
          &call->ctx, static_cast<const hv1::ServerStartRequest&>(request), cq);
      break;
    case HookEvent::kClientConnect:
      call->reader = stub->PrepareAsyncOnClientConnect(
          &call->ctx, static_cast<const hv1::ClientConnectRequest&>(request), cq);
      break;
    case HookEvent::kTunnelOpen:
      call->reader = stub->PrepareAsyncOnTunnelOpen(
          &call->ctx, static_cast<const hv1::TunnelOpenRequest&>(request), cq);
      break;
    case HookEvent::kVisitorConnect:
      call->reader = stub->PrepareAsyncOnVisitorConnect(
          &call->ctx, static_cast<const hv1::VisitorConnectRequest&>(request), cq);
      break;
    default: {
      auto cb = std::move(call->done);
      delete call;
      cb(grpc::Status(grpc::StatusCode::INTERNAL, "not a blocking event"), {});
      return;
    }
  }
  core_->Track(&call->ctx);
  HookCompletionQueue::Publish(call);
  std::lock_guard<std::mutex> l(call->starting);
  call->reader->StartCall();
  call->reader->Finish(&call->resp, &call->status, call);
}

#define REITUNNEL_NOTIFY_CASE(EVENT, REQ, METHOD)                                        \
  case HookEvent::EVENT: {                                                               \
    auto call = std::make_shared<UnaryCall<hv1::REQ, hv1::Ack>>();                       \
    call->req.CopyFrom(request);                                                         \
    call->ctx.set_deadline(deadline);                                                    \
    core_->Track(&call->ctx);                                                            \
    core_->stub->async()->METHOD(&call->ctx, &call->req, &call->resp,                    \
                                 [core = core_, call, done = std::move(done)](grpc::Status s) { \
                                   core->Untrack(&call->ctx);                            \
                                   done(s);                                              \
                                 });                                                     \
    return;                                                                              \
  }

void GrpcHookClient::Notify(HookEvent event, const google::protobuf::Message& request,
                            std::chrono::milliseconds timeout, DoneCallback done) {
  auto deadline = std::chrono::system_clock::now() + timeout;
  switch (event) {
    REITUNNEL_NOTIFY_CASE(kServerStop, ServerStopRequest, OnServerStop)
    REITUNNEL_NOTIFY_CASE(kClientDisconnect, ClientDisconnectRequest, OnClientDisconnect)
    REITUNNEL_NOTIFY_CASE(kTunnelClose, TunnelCloseRequest, OnTunnelClose)
    REITUNNEL_NOTIFY_CASE(kError, ErrorEvent, OnError)
    REITUNNEL_NOTIFY_CASE(kVisitorDisconnect, VisitorDisconnectRequest, OnVisitorDisconnect)
    default:
      done(grpc::Status(grpc::StatusCode::INTERNAL, "not a notification"));
  }
}

#undef REITUNNEL_NOTIFY_CASE

void GrpcHookClient::Describe(const hv1::DescribeRequest& request,
                              std::chrono::milliseconds timeout, DescribeCallback done) {
  auto call = std::make_shared<UnaryCall<hv1::DescribeRequest, hv1::DescribeResponse>>();
  call->req = request;
  call->ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  core_->Track(&call->ctx);
  core_->stub->async()->Describe(&call->ctx, &call->req, &call->resp,
                                 [core = core_, call, done = std::move(done)](grpc::Status s) {
                                   core->Untrack(&call->ctx);
                                   done(s, call->resp);
                                 });
}

void GrpcHookClient::WriteBatch(const hv1::DataBatch& batch, DoneCallback done) {
  if (stream_ && stream_->broken()) {
    stream_->Finish(nullptr);
    stream_ = nullptr;
  }
  if (!stream_) stream_ = new DataStream(core_);
  stream_->Write(batch, std::move(done));
}

void GrpcHookClient::FinishStream(DoneCallback done) {
  if (!stream_) {
    done(grpc::Status::OK);
    return;
  }
  DataStream* s = stream_;
  stream_ = nullptr;
  s->Finish(std::move(done));
}

}  // namespace reitunnel::server
