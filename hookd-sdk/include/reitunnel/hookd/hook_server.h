#pragma once

// HookServer serves one or more Hooks as a reitunnel.hook.v1.HookService over
// gRPC, next to grpc.health.v1.Health and gRPC server reflection. It answers
// Describe itself: the events its hooks implement.
//
//   MyHook hook;
//   HookServer server({.address = "127.0.0.1:7100"});
//   server.AddHook(&hook);
//   absl::Status status = server.Run();  // returns after SIGTERM/SIGINT

#include <chrono>
#include <concepts>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <typeinfo>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "reitunnel/hookd/events.h"
#include "reitunnel/hookd/hook.h"
#include "reitunnel/hookd/overridden_events.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace reitunnel::hookd {
namespace internal {
struct HookEntry;
}  // namespace internal

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

// Where hook code runs.
enum class Execution {
  // On a thread of gRPC's synchronous-server pool (the default). Hook code may
  // block (a database lookup, a remote call) without holding up other calls;
  // each call costs a hand-off from gRPC's I/O thread to a pool thread.
  kThreadPool,
  // Inline on gRPC's callback thread, answering from within the RPC handler:
  // no hand-off, the lowest veto latency. Hook code must never block (no I/O,
  // no waiting on locks held for long): while it runs, the thread serves no
  // other call, and gRPC has few of them.
  kInline,
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
  // Upper bound on gRPC threads running hook code with kThreadPool; 0 keeps
  // gRPC's default.
  int max_threads = 0;
  Execution execution = Execution::kThreadPool;
  // The hook service's own name and version, reported in Describe (e.g.
  // "auth-hook/1.2"); informational.
  std::string name = {};
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
  //
  // The events the hook implements are those its class T overrides (see
  // overridden_events.h), unless its ImplementedEvents() says otherwise.
  // Pass the hook as its own type: when the object is of a class derived from
  // T (e.g. added through a Hook*), its overrides cannot be seen here, and
  // Start() fails unless ImplementedEvents() lists them.
  template <typename T>
  requires std::derived_from<T, Hook>
  void AddHook(T* hook) { AddHookOfType(hook, OverriddenEvents<T>(), typeid(T)); }
  // Same, owned by the server.
  template <typename T>
  requires std::derived_from<T, Hook>
  void AddHook(std::unique_ptr<T> hook) {
    T* raw = hook.get();
    owned_hooks_.push_back(std::move(hook));
    AddHook(raw);
  }

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
  // The events answered in Describe, the union over the hooks (after Start()).
  EventSet implemented_events() const { return implemented_events_; }

 private:
  struct Registration {
    Hook* hook;
    // What the static type showed; exact when the object is of that type.
    EventSet overridden;
    const std::type_info* static_type;
  };

  void AddHookOfType(Hook* hook, EventSet overridden, const std::type_info& static_type);
  // Each hook with the events it implements; an error when they cannot be
  // known (see AddHook) or ImplementedEvents() names an unknown event.
  absl::StatusOr<std::vector<internal::HookEntry>> ResolveHooks() const;
  // Wakes Wait(); called from the signal watcher thread.
  void RequestStop(int signal);

  HookServerOptions options_;
  std::vector<Registration> registrations_;
  std::vector<std::unique_ptr<Hook>> owned_hooks_;
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string bound_address_;
  EventSet implemented_events_;

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
