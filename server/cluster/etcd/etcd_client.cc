#include "server/cluster/etcd/etcd_client.h"

#include <fstream>
#include <functional>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "server/cluster/etcd/await_callback.h"
#include "server/cluster/etcd/errors.h"

namespace reitunnel::cluster::etcd {
namespace {

using Clock = std::chrono::steady_clock;

// Responses are bounded; a Range over every port claim of a big cluster
// stays far below this.
constexpr int kMaxReceiveBytes = 64 << 20;

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("etcd ", what, " ", path, ": cannot read"));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("etcd ", what, " ", path, ": empty"));
  }
  return text.str();
}

std::chrono::system_clock::time_point ToSystem(Clock::time_point deadline) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(deadline - Clock::now());
}

}  // namespace

struct EtcdClient::Channel {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
  std::unique_ptr<etcdserverpb::Auth::Stub> auth;
};

template <typename Request, typename Response>
struct EtcdClient::UnaryCall {
  using Invoke = std::function<void(Channel&, grpc::ClientContext*, const Request*, Response*,
                                    std::function<void(grpc::Status)>)>;
  const char* what;
  bool idempotent;
  bool needs_token;
  Request request;
  Response response;
  Invoke invoke;
  Done<Response> done;
  Clock::time_point deadline;
  size_t attempts = 0;
  bool auth_retried = false;
  std::shared_ptr<grpc::ClientContext> context;
  std::string token;
};

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(const EtcdClientOptions& options) {
  auto endpoints = ParseEndpoints(options.endpoints);
  if (!endpoints.ok()) return endpoints.status();
  if (options.request_timeout <= std::chrono::milliseconds::zero()) {
    return absl::InvalidArgumentError("etcd request timeout must be positive");
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError("etcd client certificate and key go together");
  }
  if (options.username.empty() && !options.password.empty()) {
    return absl::InvalidArgumentError("etcd password given without a user name");
  }
  bool any_tls = false;
  bool any_plain = false;
  for (const Endpoint& ep : *endpoints) (ep.tls ? any_tls : any_plain) = true;
  const bool tls_files = !options.ca_file.empty() || !options.cert_file.empty();
  if (tls_files && !any_tls) {
    return absl::InvalidArgumentError("etcd TLS files given but no https:// endpoint");
  }

  grpc::SslCredentialsOptions ssl;
  if (!options.ca_file.empty()) {
    auto ca = ReadPem(options.ca_file, "CA file");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!options.cert_file.empty()) {
    auto cert = ReadPem(options.cert_file, "client certificate");
    if (!cert.ok()) return cert.status();
    auto key = ReadPem(options.key_file, "client key");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  if (!options.username.empty() && any_plain) {
    log::Warn("etcd_password_plaintext",
              "etcd credentials are sent to an http:// endpoint without TLS",
              {{"user", options.username}});
  }

  std::unique_ptr<EtcdClient> client(new EtcdClient(options, *endpoints));
  for (const Endpoint& ep : client->endpoints_) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(options.keepalive_time.count()));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                static_cast<int>(options.keepalive_timeout.count()));
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    // Come back quickly after an etcd restart (gRPC's default backoff grows
    // to two minutes).
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
    args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, ep.authority);
    // One connection per client and endpoint, not shared with other
    // channels to the same address (e.g. another client in the process).
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto credentials = ep.tls ? grpc::SslCredentials(ssl) : grpc::InsecureChannelCredentials();
    auto ch = std::make_unique<Channel>();
    ch->channel = grpc::CreateCustomChannel(ep.grpc_target, credentials, args);
    ch->kv = etcdserverpb::KV::NewStub(ch->channel);
    ch->lease = etcdserverpb::Lease::NewStub(ch->channel);
    ch->watch = etcdserverpb::Watch::NewStub(ch->channel);
    ch->auth = etcdserverpb::Auth::NewStub(ch->channel);
    client->channels_.push_back(std::move(ch));
  }
  return client;
}

EtcdClient::EtcdClient(EtcdClientOptions options, std::vector<Endpoint> endpoints)
    : options_(std::move(options)), endpoints_(std::move(endpoints)) {}

EtcdClient::~EtcdClient() {
  std::vector<std::shared_ptr<grpc::ClientContext>> live;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    for (auto& [raw, context] : contexts_) live.push_back(context);
  }
  // Outside the lock: cancellation may run callbacks inline, which
  // unregister.
  for (auto& context : live) context->TryCancel();
  live.clear();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* operations) { return *operations == 0; }, &operations_));
}

// --- bookkeeping ------------------------------------------------------------

bool EtcdClient::BeginOperation() {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return false;
  ++operations_;
  return true;
}

void EtcdClient::EndOperation() {
  absl::MutexLock lock(&mu_);
  --operations_;
}

std::shared_ptr<grpc::ClientContext> EtcdClient::NewContext(const std::string& token,
                                                            Clock::time_point deadline) {
  auto context = std::make_shared<grpc::ClientContext>();
  if (deadline != Clock::time_point()) context->set_deadline(ToSystem(deadline));
  if (!token.empty()) context->AddMetadata("token", token);
  return context;
}

bool EtcdClient::Register(const std::shared_ptr<grpc::ClientContext>& context) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return false;
  contexts_.emplace(context.get(), context);
  return true;
}

void EtcdClient::Unregister(grpc::ClientContext* context) {
  std::shared_ptr<grpc::ClientContext> dropped;
  absl::MutexLock lock(&mu_);
  auto it = contexts_.find(context);
  if (it != contexts_.end()) {
    dropped = std::move(it->second);
    contexts_.erase(it);
  }
}

size_t EtcdClient::PreferredEndpoint() const {
  const size_t n = channels_.size();
  const size_t first = preferred_.load() % n;
  for (size_t i = 0; i < n; ++i) {
    const size_t index = (first + i) % n;
    if (channels_[index]->channel->GetState(false) != GRPC_CHANNEL_TRANSIENT_FAILURE) {
      return index;
    }
  }
  return first;
}

void EtcdClient::ReportEndpointFailure(size_t index) {
  const size_t n = channels_.size();
  if (n < 2) return;
  size_t expected = index;
  if (preferred_.compare_exchange_strong(expected, (index + 1) % n)) {
    log::Warn("etcd_endpoint_failover", "etcd endpoint failed, trying the next one",
              {{"failed", endpoints_[index].url}, {"next", endpoints_[(index + 1) % n].url}});
  }
}

// --- unary calls --------------------------------------------------------------

template <typename Request, typename Response, typename Invoke>
void EtcdClient::StartUnary(const char* what, bool idempotent, bool needs_token, Request request,
                            CallOptions options, Invoke invoke, Done<Response> done) {
  if (!BeginOperation()) {
    done(absl::CancelledError(absl::StrCat("etcd ", what, ": client is shutting down")));
    return;
  }
  auto call = std::make_shared<UnaryCall<Request, Response>>();
  call->what = what;
  call->idempotent = idempotent;
  call->needs_token = needs_token;
  call->request = std::move(request);
  call->invoke = std::move(invoke);
  call->done = std::move(done);
  const auto timeout = options.timeout > std::chrono::milliseconds::zero()
                           ? options.timeout
                           : options_.request_timeout;
  call->deadline = Clock::now() + timeout;
  Attempt(std::move(call));
}

template <typename Request, typename Response>
void EtcdClient::Attempt(std::shared_ptr<UnaryCall<Request, Response>> call) {
  if (!call->needs_token || !authenticated()) {
    Send(std::move(call), std::string());
    return;
  }
  AcquireToken([this, call](absl::StatusOr<std::string> token) mutable {
    if (!token.ok()) {
      Finish(std::move(call), token.status());
      return;
    }
    Send(std::move(call), *std::move(token));
  });
}

template <typename Request, typename Response>
void EtcdClient::Send(std::shared_ptr<UnaryCall<Request, Response>> call, std::string token) {
  if (Clock::now() >= call->deadline) {
    Finish(std::move(call),
           absl::DeadlineExceededError(absl::StrCat("etcd ", call->what, ": deadline exceeded")));
    return;
  }
  auto context = NewContext(token, call->deadline);
  if (!Register(context)) {
    Finish(std::move(call),
           absl::CancelledError(absl::StrCat("etcd ", call->what, ": client is shutting down")));
    return;
  }
  call->context = context;
  call->token = std::move(token);
  call->response.Clear();
  const size_t endpoint = PreferredEndpoint();
  ++call->attempts;
  auto* raw = call.get();
  raw->invoke(*channels_[endpoint], context.get(), &raw->request, &raw->response,
              [this, call = std::move(call), endpoint](grpc::Status status) mutable {
                Unregister(call->context.get());
                if (status.ok()) {
                  Response response = std::move(call->response);
                  Finish(std::move(call), std::move(response));
                  return;
                }
                if (IsInvalidAuthToken(status) && authenticated() && !call->auth_retried) {
                  // Expired tokens are routine (etcd's simple tokens time out
                  // when idle): get a new one and repeat the call once.
                  call->auth_retried = true;
                  InvalidateToken(call->token);
                  Attempt(std::move(call));
                  return;
                }
                if (IsEndpointFailure(status)) {
                  ReportEndpointFailure(endpoint);
                  if (call->idempotent && call->attempts < channels_.size() &&
                      Clock::now() < call->deadline) {
                    Attempt(std::move(call));
                    return;
                  }
                }
                absl::Status error = FromGrpc(status, call->what);
                Finish(std::move(call), std::move(error));
              });
}

template <typename Request, typename Response>
void EtcdClient::Finish(std::shared_ptr<UnaryCall<Request, Response>> call,
                        absl::StatusOr<std::type_identity_t<Response>> result) {
  auto done = std::move(call->done);
  call.reset();
  done(std::move(result));
  EndOperation();  // last: the destructor may run from here on
}

// Binds a callback-API stub method; a lambda because the methods are
// overloaded (function and reactor forms).
#define REITUNNEL_ETCD_UNARY(STUB, METHOD)                                                     \
  [](Channel& ch, grpc::ClientContext* context, const auto* request, auto* response,           \
     std::function<void(grpc::Status)> on_done) {                                              \
    ch.STUB->async()->METHOD(context, request, response, std::move(on_done));                  \
  }

void EtcdClient::AsyncRange(etcdserverpb::RangeRequest request, CallOptions options,
                            Done<etcdserverpb::RangeResponse> done) {
  StartUnary<etcdserverpb::RangeRequest, etcdserverpb::RangeResponse>(
      "Range", true, true, std::move(request), options, REITUNNEL_ETCD_UNARY(kv, Range),
      std::move(done));
}

void EtcdClient::AsyncPut(etcdserverpb::PutRequest request, CallOptions options,
                          Done<etcdserverpb::PutResponse> done) {
  StartUnary<etcdserverpb::PutRequest, etcdserverpb::PutResponse>(
      "Put", false, true, std::move(request), options, REITUNNEL_ETCD_UNARY(kv, Put),
      std::move(done));
}

void EtcdClient::AsyncDeleteRange(etcdserverpb::DeleteRangeRequest request, CallOptions options,
                                  Done<etcdserverpb::DeleteRangeResponse> done) {
  StartUnary<etcdserverpb::DeleteRangeRequest, etcdserverpb::DeleteRangeResponse>(
      "DeleteRange", false, true, std::move(request), options,
      REITUNNEL_ETCD_UNARY(kv, DeleteRange), std::move(done));
}

void EtcdClient::AsyncTxn(etcdserverpb::TxnRequest request, CallOptions options,
                          Done<etcdserverpb::TxnResponse> done) {
  StartUnary<etcdserverpb::TxnRequest, etcdserverpb::TxnResponse>(
      "Txn", false, true, std::move(request), options, REITUNNEL_ETCD_UNARY(kv, Txn),
      std::move(done));
}

void EtcdClient::AsyncCompact(etcdserverpb::CompactionRequest request, CallOptions options,
                              Done<etcdserverpb::CompactionResponse> done) {
  StartUnary<etcdserverpb::CompactionRequest, etcdserverpb::CompactionResponse>(
      "Compact", true, true, std::move(request), options, REITUNNEL_ETCD_UNARY(kv, Compact),
      std::move(done));
}

void EtcdClient::AsyncLeaseGrant(etcdserverpb::LeaseGrantRequest request, CallOptions options,
                                 Done<etcdserverpb::LeaseGrantResponse> done) {
  StartUnary<etcdserverpb::LeaseGrantRequest, etcdserverpb::LeaseGrantResponse>(
      "LeaseGrant", false, true, std::move(request), options,
      REITUNNEL_ETCD_UNARY(lease, LeaseGrant), std::move(done));
}

void EtcdClient::AsyncLeaseRevoke(etcdserverpb::LeaseRevokeRequest request, CallOptions options,
                                  Done<etcdserverpb::LeaseRevokeResponse> done) {
  StartUnary<etcdserverpb::LeaseRevokeRequest, etcdserverpb::LeaseRevokeResponse>(
      "LeaseRevoke", true, true, std::move(request), options,
      REITUNNEL_ETCD_UNARY(lease, LeaseRevoke), std::move(done));
}

#define REITUNNEL_ETCD_AWAITABLE(METHOD)                                                       \
  asio::awaitable<absl::StatusOr<etcdserverpb::METHOD##Response>> EtcdClient::METHOD(          \
      const etcdserverpb::METHOD##Request& request, CallOptions options) {                     \
    return AwaitCallback<absl::StatusOr<etcdserverpb::METHOD##Response>>(                      \
        [this, request,                                                                        \
         options](Done<etcdserverpb::METHOD##Response> done) mutable {                         \
          Async##METHOD(std::move(request), options, std::move(done));                         \
        });                                                                                    \
  }

REITUNNEL_ETCD_AWAITABLE(Range)
REITUNNEL_ETCD_AWAITABLE(Put)
REITUNNEL_ETCD_AWAITABLE(DeleteRange)
REITUNNEL_ETCD_AWAITABLE(Txn)
REITUNNEL_ETCD_AWAITABLE(LeaseGrant)
REITUNNEL_ETCD_AWAITABLE(LeaseRevoke)

asio::awaitable<absl::StatusOr<etcdserverpb::CompactionResponse>> EtcdClient::Compact(
    const etcdserverpb::CompactionRequest& request, CallOptions options) {
  return AwaitCallback<absl::StatusOr<etcdserverpb::CompactionResponse>>(
      [this, request,
       options](Done<etcdserverpb::CompactionResponse> done) mutable {
        AsyncCompact(std::move(request), options, std::move(done));
      });
}

// --- authentication -------------------------------------------------------------

void EtcdClient::AcquireToken(Done<std::string> done) {
  if (!authenticated()) {
    done(std::string());
    return;
  }
  bool start = false;
  bool have_token = false;
  std::string token;
  {
    absl::MutexLock lock(&token_mu_);
    if (token_.empty()) {
      token_waiters_.push_back(std::move(done));
      if (!authenticating_) start = authenticating_ = true;
    } else {
      have_token = true;
      token = token_;
    }
  }
  if (have_token) {
    done(std::move(token));
  } else if (start) {
    Authenticate();
  }
}

void EtcdClient::InvalidateToken(const std::string& token) {
  absl::MutexLock lock(&token_mu_);
  if (token_ == token) token_.clear();
}

void EtcdClient::Authenticate() {
  etcdserverpb::AuthenticateRequest request;
  request.set_name(options_.username);
  request.set_password(options_.password);
  StartUnary<etcdserverpb::AuthenticateRequest, etcdserverpb::AuthenticateResponse>(
      "Authenticate", true, false, std::move(request), {}, REITUNNEL_ETCD_UNARY(auth, Authenticate),
      [this](absl::StatusOr<etcdserverpb::AuthenticateResponse> response) {
        absl::StatusOr<std::string> result;
        if (response.ok()) {
          result = response->token();
        } else if (absl::IsInvalidArgument(response.status()) &&
                   absl::StrContains(response.status().message(), "authentication failed")) {
          result = absl::UnauthenticatedError(absl::StrCat(
              "etcd authentication as user \"", options_.username,
              "\" failed: wrong user name or password"));
        } else if (absl::IsFailedPrecondition(response.status()) &&
                   absl::StrContains(response.status().message(), "not enabled")) {
          result = absl::FailedPreconditionError(
              "etcd user name given but authentication is not enabled on etcd");
        } else {
          result = response.status();
        }
        std::vector<Done<std::string>> waiters;
        {
          absl::MutexLock lock(&token_mu_);
          authenticating_ = false;
          if (result.ok()) token_ = *result;
          waiters.swap(token_waiters_);
        }
        if (!result.ok()) {
          log::Warn("etcd_auth_failed", "etcd authentication failed",
                    {{"error", std::string(result.status().message())}});
        }
        for (auto& waiter : waiters) waiter(result);
      });
}

// --- streams --------------------------------------------------------------------

EtcdClient::KeepAliveCall* EtcdClient::StartLeaseKeepAlive(const std::string& token,
                                                           KeepAliveCall::Sink sink) {
  if (!BeginOperation()) return nullptr;
  auto context = NewContext(token, Clock::time_point());
  if (!Register(context)) {
    EndOperation();
    return nullptr;
  }
  const size_t endpoint = PreferredEndpoint();
  auto* call = new KeepAliveCall(this, context, endpoint, std::move(sink));
  channels_[endpoint]->lease->async()->LeaseKeepAlive(context.get(), call);
  call->Begin();
  return call;
}

EtcdClient::WatchCall* EtcdClient::StartWatch(const std::string& token, WatchCall::Sink sink) {
  if (!BeginOperation()) return nullptr;
  auto context = NewContext(token, Clock::time_point());
  if (!Register(context)) {
    EndOperation();
    return nullptr;
  }
  const size_t endpoint = PreferredEndpoint();
  auto* call = new WatchCall(this, context, endpoint, std::move(sink));
  channels_[endpoint]->watch->async()->Watch(context.get(), call);
  call->Begin();
  return call;
}

}  // namespace reitunnel::cluster::etcd
