#pragma once

// A client for etcd's v3 gRPC API (etcd 3.4): KV, Lease, Watch and the
// Authenticate call, over one gRPC channel per endpoint with failover, TLS or
// mTLS, and user/password authentication.
//
// Unary operations are asio awaitables; they complete on the awaiting
// coroutine's executor and every one has a deadline:
//
//   etcdserverpb::RangeRequest req;
//   req.set_key("reitunnel/replicas/");
//   req.set_range_end(PrefixRangeEnd("reitunnel/replicas/"));
//   absl::StatusOr<etcdserverpb::RangeResponse> r = co_await client.Range(std::move(req));
//
// Requests are taken by const reference: a by-value argument would be a
// temporary inside the caller's co_await, which GCC 12 can destroy twice.
//
// Errors keep etcd's gRPC code (UNAVAILABLE: unreachable or no leader,
// DEADLINE_EXCEEDED, UNAUTHENTICATED / INVALID_ARGUMENT for credentials, ...)
// with a message "etcd <Operation>: <reason>".
//
// Streams (Watch, LeaseKeepAlive) are driven by Watcher and LeaseKeeper,
// which use StartWatch / StartLeaseKeepAlive below.
//
// Lifetime: destroy the client before the io_context its callers run on, and
// stop every Watcher / LeaseKeeper first. The destructor cancels calls still
// in flight and waits until their callbacks have run.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "asio/awaitable.hpp"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/channel.h"
#include "server/cluster/etcd/bidi_call.h"
#include "server/cluster/etcd/endpoint.h"

namespace reitunnel::cluster::etcd {

struct EtcdClientOptions {
  // http://HOST:PORT or https://HOST:PORT, comma-separated.
  std::string endpoints;
  // For https:// endpoints: PEM CA bundle (empty: system roots) and, for
  // mTLS, a client certificate chain and key (both or neither).
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // etcd user; empty: no authentication.
  std::string username;
  std::string password;
  // Deadline of a call that sets none.
  std::chrono::milliseconds request_timeout{5000};
  // HTTP/2 pings on an otherwise silent connection detect a dead etcd (etcd
  // refuses pings more often than every 5 s by default).
  std::chrono::milliseconds keepalive_time{10000};
  std::chrono::milliseconds keepalive_timeout{5000};
};

struct CallOptions {
  // 0: EtcdClientOptions::request_timeout.
  std::chrono::milliseconds timeout{0};
};

class EtcdClient final : private StreamRegistry {
 public:
  using KeepAliveCall =
      BidiCall<etcdserverpb::LeaseKeepAliveRequest, etcdserverpb::LeaseKeepAliveResponse>;
  using WatchCall = BidiCall<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>;
  template <typename T>
  using Done = absl::AnyInvocable<void(absl::StatusOr<T>)>;

  // Validates the options and reads the TLS files; does not connect (gRPC
  // connects lazily, the first call waits for it within its deadline).
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(const EtcdClientOptions& options);

  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // --- awaitable unary operations ---------------------------------------
  asio::awaitable<absl::StatusOr<etcdserverpb::RangeResponse>> Range(
      const etcdserverpb::RangeRequest& request, CallOptions options = {});
  asio::awaitable<absl::StatusOr<etcdserverpb::PutResponse>> Put(
      const etcdserverpb::PutRequest& request, CallOptions options = {});
  asio::awaitable<absl::StatusOr<etcdserverpb::DeleteRangeResponse>> DeleteRange(
      const etcdserverpb::DeleteRangeRequest& request, CallOptions options = {});
  asio::awaitable<absl::StatusOr<etcdserverpb::TxnResponse>> Txn(
      const etcdserverpb::TxnRequest& request, CallOptions options = {});
  asio::awaitable<absl::StatusOr<etcdserverpb::CompactionResponse>> Compact(
      const etcdserverpb::CompactionRequest& request, CallOptions options = {});
  asio::awaitable<absl::StatusOr<etcdserverpb::LeaseGrantResponse>> LeaseGrant(
      const etcdserverpb::LeaseGrantRequest& request, CallOptions options = {});
  asio::awaitable<absl::StatusOr<etcdserverpb::LeaseRevokeResponse>> LeaseRevoke(
      const etcdserverpb::LeaseRevokeRequest& request, CallOptions options = {});

  // --- the same with callbacks (run on a gRPC thread; must not block) ----
  void AsyncRange(etcdserverpb::RangeRequest request, CallOptions options,
                  Done<etcdserverpb::RangeResponse> done);
  void AsyncPut(etcdserverpb::PutRequest request, CallOptions options,
                Done<etcdserverpb::PutResponse> done);
  void AsyncDeleteRange(etcdserverpb::DeleteRangeRequest request, CallOptions options,
                        Done<etcdserverpb::DeleteRangeResponse> done);
  void AsyncTxn(etcdserverpb::TxnRequest request, CallOptions options,
                Done<etcdserverpb::TxnResponse> done);
  void AsyncCompact(etcdserverpb::CompactionRequest request, CallOptions options,
                    Done<etcdserverpb::CompactionResponse> done);
  void AsyncLeaseGrant(etcdserverpb::LeaseGrantRequest request, CallOptions options,
                       Done<etcdserverpb::LeaseGrantResponse> done);
  void AsyncLeaseRevoke(etcdserverpb::LeaseRevokeRequest request, CallOptions options,
                        Done<etcdserverpb::LeaseRevokeResponse> done);

  // --- streams (used by Watcher and LeaseKeeper) --------------------------
  // The current auth token ("" without authentication), authenticating first
  // when there is none. Concurrent callers share one Authenticate call.
  void AcquireToken(Done<std::string> done);
  // Forgets `token` if it is still the current one (etcd said it is invalid).
  void InvalidateToken(const std::string& token);
  // Starts a stream on the preferred endpoint; see BidiCall for the protocol.
  // Returns nullptr once the client is shutting down.
  KeepAliveCall* StartLeaseKeepAlive(const std::string& token, KeepAliveCall::Sink sink);
  WatchCall* StartWatch(const std::string& token, WatchCall::Sink sink);

  // A call or stream on endpoint `index` failed in a way another endpoint
  // might not: prefer the next one from now on.
  void ReportEndpointFailure(size_t index);

  const std::vector<Endpoint>& endpoints() const { return endpoints_; }
  std::chrono::milliseconds request_timeout() const { return options_.request_timeout; }
  bool authenticated() const { return !options_.username.empty(); }

 private:
  struct Channel;
  template <typename Request, typename Response>
  struct UnaryCall;

  EtcdClient(EtcdClientOptions options, std::vector<Endpoint> endpoints);

  template <typename Request, typename Response, typename Invoke>
  void StartUnary(const char* what, bool idempotent, bool needs_token, Request request,
                  CallOptions options, Invoke invoke, Done<Response> done);
  template <typename Request, typename Response>
  void Attempt(std::shared_ptr<UnaryCall<Request, Response>> call);
  template <typename Request, typename Response>
  void Send(std::shared_ptr<UnaryCall<Request, Response>> call, std::string token);
  template <typename Request, typename Response>
  void Finish(std::shared_ptr<UnaryCall<Request, Response>> call,
              absl::StatusOr<std::type_identity_t<Response>> result);

  void Authenticate();
  size_t PreferredEndpoint() const;

  // Registry of contexts in flight, so the destructor can cancel and wait.
  std::shared_ptr<grpc::ClientContext> NewContext(const std::string& token,
                                                  std::chrono::steady_clock::time_point deadline);
  bool Register(const std::shared_ptr<grpc::ClientContext>& context);
  void Unregister(grpc::ClientContext* context);
  void StreamFinished(grpc::ClientContext* context) override {
    Unregister(context);
    EndOperation();
  }
  bool BeginOperation();
  void EndOperation();

  const EtcdClientOptions options_;
  const std::vector<Endpoint> endpoints_;
  std::vector<std::unique_ptr<Channel>> channels_;
  std::atomic<size_t> preferred_{0};

  absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  int operations_ ABSL_GUARDED_BY(mu_) = 0;  // unary calls (all attempts) and streams
  absl::flat_hash_map<grpc::ClientContext*, std::shared_ptr<grpc::ClientContext>> contexts_
      ABSL_GUARDED_BY(mu_);

  absl::Mutex token_mu_;
  std::string token_ ABSL_GUARDED_BY(token_mu_);
  bool authenticating_ ABSL_GUARDED_BY(token_mu_) = false;
  std::vector<Done<std::string>> token_waiters_ ABSL_GUARDED_BY(token_mu_);
};

}  // namespace reitunnel::cluster::etcd
