#include "server/hooks/grpc_hook_client.h"

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/client_callback.h"

namespace reitunnel::server {

namespace hv1 = hook::v1;

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One unary call: owns what the callback API needs to outlive the call.
template <typename Req, typename Resp>
struct UnaryCall {
  std::unique_ptr<grpc::ClientContext> ctx = std::make_unique<grpc::ClientContext>();
  Req req;
  Resp resp;
};

}  // namespace

// The StreamDataEvents stream. Lives from the first write until OnDone; a
// hold keeps OnDone from running while the owner may still call into it, so
// the owner decides when it is safe to let it finish (Release()).
class GrpcHookClient::DataStream : public grpc::ClientWriteReactor<hv1::DataBatch> {
 public:
  DataStream(GrpcHookClient* owner, hv1::HookService::Stub* stub) : owner_(owner) {
    {
      std::lock_guard<std::mutex> l(owner_->mu_);
      owner_->streams_.insert(this);
    }
    stub->async()->StreamDataEvents(&ctx_, &ack_, this);
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
    if (cb) cb(ok ? grpc::Status::OK : grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                                     "data stream write failed"));
  }

  void OnDone(const grpc::Status& s) override {
    DoneCallback cb;
    {
      std::lock_guard<std::mutex> l(mu_);
      cb = std::move(finish_);
    }
    // Report first, unregister last: once the owner sees no stream left,
    // nothing will post to its executor any more.
    if (cb) cb(s);
    {
      std::lock_guard<std::mutex> l(owner_->mu_);
      owner_->streams_.erase(this);
    }
    delete this;
  }

 private:
  GrpcHookClient* owner_;
  grpc::ClientContext ctx_;
  hv1::Ack ack_;
  hv1::DataBatch batch_;
  std::mutex mu_;
  bool broken_ = false;
  DoneCallback pending_write_;
  DoneCallback finish_;
};

absl::StatusOr<std::unique_ptr<GrpcHookClient>> GrpcHookClient::Create(
    const config::v1::HookConfig& cfg) {
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
    if (!tls.server_name().empty()) {
      args.SetSslTargetNameOverride(tls.server_name());
    }
    creds = grpc::SslCredentials(o);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  auto channel = grpc::CreateCustomChannel(cfg.address(), creds, args);
  if (!channel) return absl::InvalidArgumentError(absl::StrCat("bad hook address for ", cfg.name()));
  // Connect eagerly so the first blocking call doesn't pay for it.
  channel->GetState(/*try_to_connect=*/true);
  return std::unique_ptr<GrpcHookClient>(new GrpcHookClient(std::move(channel)));
}

GrpcHookClient::GrpcHookClient(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)), stub_(hv1::HookService::NewStub(channel_)) {}

GrpcHookClient::~GrpcHookClient() {
  if (stream_) {
    stream_->Finish(nullptr);
    stream_ = nullptr;
  }
  CancelAll();
  // Reactors unregister in OnDone, which may still be on its way from a
  // gRPC thread; they point back at this object, so wait for them.
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (streams_.empty() && outstanding_.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

grpc::ClientContext* GrpcHookClient::Track(std::unique_ptr<grpc::ClientContext>& ctx) {
  std::lock_guard<std::mutex> l(mu_);
  outstanding_.insert(ctx.get());
  return ctx.get();
}

void GrpcHookClient::Untrack(grpc::ClientContext* ctx) {
  std::lock_guard<std::mutex> l(mu_);
  outstanding_.erase(ctx);
}

void GrpcHookClient::CancelAll() {
  std::lock_guard<std::mutex> l(mu_);
  for (auto* ctx : outstanding_) ctx->TryCancel();
  // Streams too: one the hook stopped reading would otherwise never finish.
  for (auto* s : streams_) s->Cancel();
}

std::string GrpcHookClient::State() {
  switch (channel_->GetState(false)) {
    case GRPC_CHANNEL_READY: return "ready";
    case GRPC_CHANNEL_CONNECTING: return "connecting";
    case GRPC_CHANNEL_TRANSIENT_FAILURE: return "failing";
    case GRPC_CHANNEL_IDLE: return "idle";
    case GRPC_CHANNEL_SHUTDOWN: return "shutdown";
  }
  return "unknown";
}

#define REITUNNEL_DECIDE_CASE(EVENT, REQ, METHOD)                                        \
  case HookEvent::EVENT: {                                                               \
    auto call = std::make_shared<UnaryCall<hv1::REQ, hv1::DecisionResponse>>();          \
    call->req.CopyFrom(request);                                                         \
    call->ctx->set_deadline(deadline);                                                   \
    auto* ctx = Track(call->ctx);                                                        \
    stub_->async()->METHOD(ctx, &call->req, &call->resp,                                 \
                           [this, call, done = std::move(done)](grpc::Status s) {        \
                             done(s, call->resp);                                        \
                             Untrack(call->ctx.get());                                   \
                           });                                                           \
    return;                                                                              \
  }

void GrpcHookClient::Decide(HookEvent event, const google::protobuf::Message& request,
                            std::chrono::milliseconds timeout, DecisionCallback done) {
  auto deadline = std::chrono::system_clock::now() + timeout;
  switch (event) {
    REITUNNEL_DECIDE_CASE(kServerStart, ServerStartRequest, OnServerStart)
    REITUNNEL_DECIDE_CASE(kClientConnect, ClientConnectRequest, OnClientConnect)
    REITUNNEL_DECIDE_CASE(kTunnelOpen, TunnelOpenRequest, OnTunnelOpen)
    REITUNNEL_DECIDE_CASE(kVisitorConnect, VisitorConnectRequest, OnVisitorConnect)
    default:
      done(grpc::Status(grpc::StatusCode::INTERNAL, "not a blocking event"), {});
  }
}

#define REITUNNEL_NOTIFY_CASE(EVENT, REQ, METHOD)                                        \
  case HookEvent::EVENT: {                                                               \
    auto call = std::make_shared<UnaryCall<hv1::REQ, hv1::Ack>>();                       \
    call->req.CopyFrom(request);                                                         \
    call->ctx->set_deadline(deadline);                                                   \
    auto* ctx = Track(call->ctx);                                                        \
    stub_->async()->METHOD(ctx, &call->req, &call->resp,                                 \
                           [this, call, done = std::move(done)](grpc::Status s) {        \
                             done(s);                                                    \
                             Untrack(call->ctx.get());                                   \
                           });                                                           \
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

#undef REITUNNEL_DECIDE_CASE
#undef REITUNNEL_NOTIFY_CASE

void GrpcHookClient::WriteBatch(const hv1::DataBatch& batch, DoneCallback done) {
  if (stream_ && stream_->broken()) {
    stream_->Finish(nullptr);
    stream_ = nullptr;
  }
  if (!stream_) stream_ = new DataStream(this, stub_.get());
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
