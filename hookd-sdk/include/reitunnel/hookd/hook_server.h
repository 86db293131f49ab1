#pragma once

// HookServer serves one or more Hooks as a reitunnel.hook.v1.HookService over
// gRPC, next to grpc.health.v1.Health and gRPC server reflection.
//
//   MyHook hook;
//   HookServer server({.address = "127.0.0.1:7100"});
//   server.AddHook(&hook);
//   absl::Status status = server.Run();  // returns after SIGTERM/SIGINT

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "reitunnel/hookd/hook.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace reitunnel::hookd {

// How blocking events are decided across the hooks of one HookServer (the
// seed HookManager's strategies). Notifications and data batches always go
// to every hook, in registration order.
enum class Strategy {
  // Hooks are asked in registration order; the first that does not allow
  // (DENY or ERROR) decides and the later hooks are not asked.
  kStopOnError,
  // Every hook is asked. Any DENY denies, with the reasons of all denying
  // hooks joined by "; ". Otherwise any ERROR answers UNAVAILABLE (the
  // server's failure policy decides). Otherwise ALLOW.
  kCollectAndContinue,
};

struct HookServerOptions {
  // "host:port" (port 0 picks a free port; see HookServer::port()) or
  // "unix:///absolute/path".
  std::string address = "127.0.0.1:7100";
  Strategy strategy = Strategy::kStopOnError;
  // PEM files. TLS is on when tls_cert_file is set (tls_key_file is then
  // required); tls_client_ca_file additionally requires client certificates
  // signed by that CA (mTLS). The explicit initializers keep designated
  // initializers ({.address = ...}) free of -Wmissing-field-initializers.
  std::string tls_cert_file = {};
  std::string tls_key_file = {};
  std::string tls_client_ca_file = {};
  // Catch SIGTERM and SIGINT from Start() until shutdown (the previous
  // handlers are restored then) and make Wait() return on them. Turn off when
  // the program handles signals itself and calls Shutdown().
  bool handle_signals = true;
  // On shutdown, calls in flight get this long to finish before they are
  // cancelled (the server's data stream is only ever ended this way).
  std::chrono::milliseconds shutdown_grace{1000};
  // Upper bound on gRPC threads running hook code; 0 keeps gRPC's default.
  int max_threads = 0;
};

class HookServer {
 public:
  explicit HookServer(HookServerOptions options = {});
  // Shuts down (see Shutdown()).
  ~HookServer();

  HookServer(const HookServer&) = delete;
  HookServer& operator=(const HookServer&) = delete;

  // Adds a hook, asked after those added before it. Call before Start().
  // The server does not own `hook`, which must outlive it.
  void AddHook(Hook* hook);
  // Same, owned by the server.
  void AddHook(std::unique_ptr<Hook> hook);

  // Binds the address and starts serving in gRPC's threads; returns at once.
  absl::Status Start();
  // Blocks until SIGTERM/SIGINT (with handle_signals) or Shutdown() from
  // another thread, then shuts the server down and returns. Returns at once
  // if the server was never started.
  void Wait();
  // Start() then Wait().
  absl::Status Run();
  // Stops accepting calls, gives calls in flight shutdown_grace, cancels the
  // rest and waits for hook code to return. Thread-safe and idempotent.
  void Shutdown();

  // The bound TCP port (after Start(); 0 for unix sockets).
  int port() const { return port_; }
  // The address actually served: options.address with the bound port.
  const std::string& address() const { return bound_address_; }
  // The signal that ended Wait(), or 0.
  int stop_signal() const;

 private:
  // Wakes Wait(); called from the signal watcher thread.
  void RequestStop(int signal);

  HookServerOptions options_;
  std::vector<Hook*> hooks_;
  std::vector<std::unique_ptr<Hook>> owned_hooks_;
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string bound_address_;

  // Serializes Start() and Shutdown(), and is held for the whole shutdown so
  // that concurrent Shutdown() callers return only once the server is down.
  std::mutex lifecycle_mu_;
  bool started_ = false;         // guarded by lifecycle_mu_
  int signal_subscription_ = 0;  // guarded by lifecycle_mu_; 0: none

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_requested_ = false;  // guarded by mu_
  bool shut_down_ = false;       // guarded by mu_
  int stop_signal_ = 0;          // guarded by mu_
};

}  // namespace reitunnel::hookd
