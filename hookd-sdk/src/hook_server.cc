#include "reitunnel/hookd/hook_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "hook_dispatcher.h"
#include "inline_hook_service.h"
#include "signal_watcher.h"
#include "threaded_hook_service.h"
#include "type_name.h"

namespace reitunnel::hookd {
namespace {

constexpr char kServiceName[] = "reitunnel.hook.v1.HookService";
// DescribeResponse.sdk.
constexpr char kSdk[] = "reitunnel-hookd-cpp/" REITUNNEL_HOOKD_VERSION;

// The server keeps one data stream open per hook for its whole life and may
// keep it alive with pings; gRPC's default server policy (no pings more often
// than every 5 minutes without data) would answer them with GOAWAY.
constexpr int kMinPingIntervalMs = 10'000;
// Data batches grow with the number of tunnels; stay well above gRPC's 4 MiB
// default so a large server's batch is not refused.
constexpr int kMaxReceiveMessageBytes = 64 << 20;

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  if (in) contents << in.rdbuf();
  if (!in || contents.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", what, " ", path));
  }
  return contents.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(
    const HookServerOptions& options) {
  if (options.tls_cert_file.empty()) {
    if (!options.tls_key_file.empty() || !options.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError("TLS key or client CA given without a TLS certificate");
    }
    return grpc::InsecureServerCredentials();
  }
  if (options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("TLS certificate given without its key");
  }
  absl::StatusOr<std::string> cert = ReadFile(options.tls_cert_file, "TLS certificate");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(options.tls_key_file, "TLS key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!options.tls_client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadFile(options.tls_client_ca_file, "TLS client CA");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

bool IsUnixAddress(const std::string& address) { return absl::StartsWith(address, "unix:"); }

// Checks "host:port" up front: gRPC would otherwise guess a port for a bare
// host, or fail with a message only in its own log.
absl::Status CheckTcpAddress(const std::string& address, std::string* host) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(address).substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "address \"", address, "\": want host:port (port 0 picks one) or unix:///path"));
  }
  *host = address.substr(0, colon);
  return absl::OkStatus();
}

absl::StatusOr<EventSet> ParseEventNames(const std::vector<std::string>& names) {
  EventSet events;
  for (const std::string& name : names) {
    std::optional<Event> event = EventFromName(name);
    if (!event.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown event \"", name, "\""));
    }
    events.Add(*event);
  }
  return events;
}

}  // namespace

HookServer::HookServer(HookServerOptions options) : options_(std::move(options)) {}

HookServer::~HookServer() { Shutdown(); }

void HookServer::AddHookOfType(Hook* hook, EventSet overridden, const std::type_info& static_type) {
  registrations_.push_back({hook, overridden, &static_type});
}

absl::StatusOr<std::vector<internal::HookEntry>> HookServer::ResolveHooks() const {
  std::vector<internal::HookEntry> entries;
  for (size_t i = 0; i < registrations_.size(); ++i) {
    const Registration& r = registrations_[i];
    if (r.hook == nullptr) return absl::InvalidArgumentError("HookServer::AddHook(nullptr)");
    const std::type_info& dynamic_type = typeid(*r.hook);
    std::optional<std::vector<std::string>> declared = r.hook->ImplementedEvents();
    if (declared.has_value()) {
      absl::StatusOr<EventSet> events = ParseEventNames(*declared);
      if (!events.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("hook ", i + 1, " (", internal::TypeName(dynamic_type),
                         "): ImplementedEvents(): ", events.status().message()));
      }
      entries.push_back({r.hook, *events});
    } else if (dynamic_type == *r.static_type) {
      entries.push_back({r.hook, r.overridden});
    } else {
      // Describe must not leave out what the object's own class overrides.
      return absl::InvalidArgumentError(absl::StrCat(
          "hook ", i + 1, " is a ", internal::TypeName(dynamic_type), " added as a ",
          internal::TypeName(*r.static_type),
          ", so HookServer cannot see which events it overrides: add it by its own type "
          "(AddHook(&hook), AddHook(std::make_unique<MyHook>())) or override "
          "ImplementedEvents()"));
    }
  }
  return entries;
}

absl::Status HookServer::Start() {
  std::lock_guard<std::mutex> lifecycle_lock(lifecycle_mu_);
  if (started_) return absl::FailedPreconditionError("HookServer already started or shut down");
  if (registrations_.empty()) return absl::InvalidArgumentError("HookServer has no hooks");
  absl::StatusOr<std::vector<internal::HookEntry>> hooks = ResolveHooks();
  if (!hooks.ok()) return hooks.status();

  std::string host;
  const bool unix_socket = IsUnixAddress(options_.address);
  if (!unix_socket) {
    if (absl::Status status = CheckTcpAddress(options_.address, &host); !status.ok()) {
      return status;
    }
  }
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = MakeCredentials(options_);
  if (!credentials.ok()) return credentials.status();

  // Both are process-wide switches read by every ServerBuilder.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  auto dispatcher = std::make_unique<const internal::HookDispatcher>(
      *std::move(hooks), options_.strategy, kSdk, options_.name);
  const EventSet implemented = dispatcher->events();
  if (options_.execution == Execution::kInline) {
    service_ = std::make_unique<internal::InlineHookService>(std::move(dispatcher));
  } else {
    service_ = std::make_unique<internal::ThreadedHookService>(std::move(dispatcher));
  }
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(options_.address, *credentials, &selected_port);
  builder.RegisterService(service_.get());
  builder.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             kMinPingIntervalMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // gRPC sets SO_REUSEPORT by default, which would let a second copy of a hook
  // service bind the same port and silently take half of the calls.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Connections are recycled every few minutes so that clients re-resolve
  // the service name (dns:///) and spread load onto newly scaled replicas.
  // The long grace lets an open data stream finish and reopen cleanly.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, 5 * 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, 30 * 1000);
  if (options_.max_threads > 0) {
    grpc::ResourceQuota quota("reitunnel-hookd");
    quota.SetMaxThreads(options_.max_threads);
    builder.SetResourceQuota(quota);
  }
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || (!unix_socket && selected_port == 0)) {
    if (server_ != nullptr) server_->Shutdown();
    server_.reset();
    service_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.address, " (in use, or not a local address?)"));
  }
  started_ = true;
  implemented_events_ = implemented;
  if (unix_socket) {
    bound_address_ = options_.address;
  } else {
    port_ = selected_port;
    bound_address_ = absl::StrCat(host, ":", port_);
  }
  server_->GetHealthCheckService()->SetServingStatus(kServiceName, true);
  if (options_.handle_signals) {
    signal_subscription_ =
        internal::SignalWatcher::Get().Subscribe([this](int signal) { RequestStop(signal); });
  }
  return absl::OkStatus();
}

void HookServer::RequestStop(int signal) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_requested_ = true;
    if (stop_signal_ == 0) stop_signal_ = signal;
  }
  cv_.notify_all();
}

void HookServer::Wait() {
  {
    // Nothing could ever wake a server that was never started.
    std::lock_guard<std::mutex> lifecycle_lock(lifecycle_mu_);
    if (!started_) return;
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return stop_requested_ || shut_down_; });
  }
  Shutdown();
}

absl::Status HookServer::Run() {
  if (absl::Status status = Start(); !status.ok()) return status;
  Wait();
  return absl::OkStatus();
}

void HookServer::Shutdown() {
  std::lock_guard<std::mutex> lifecycle_lock(lifecycle_mu_);
  if (signal_subscription_ != 0) {
    internal::SignalWatcher::Get().Unsubscribe(signal_subscription_);
    signal_subscription_ = 0;
  }
  if (server_ != nullptr) {
    // Marks health NOT_SERVING, refuses new calls, cancels what is still
    // running at the deadline, then waits for the handlers to return.
    server_->Shutdown(std::chrono::system_clock::now() + options_.shutdown_grace);
    server_->Wait();
    server_.reset();
  }
  started_ = true;  // a server that was shut down does not start again
  {
    std::lock_guard<std::mutex> lock(mu_);
    shut_down_ = true;
  }
  cv_.notify_all();
}

int HookServer::stop_signal() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_signal_;
}

}  // namespace reitunnel::hookd
