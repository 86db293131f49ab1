// HookServer end to end: a real gRPC server on 127.0.0.1:0 (or a unix
// socket) and a real client channel, as reitunneld would talk to it.

#include "reitunnel/hookd/hook_server.h"

#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "reitunnel/hook/v1/hook.grpc.pb.h"
#include "reitunnel/hookd/hook.h"
#include "reitunnel/hookd/main.h"

namespace reitunnel::hookd {
namespace {

namespace pb = ::reitunnel::hook::v1;
using ::testing::ElementsAre;

// A hook with a fixed answer for every blocking event, recording what it saw.
class FixedHook : public Hook {
 public:
  explicit FixedHook(absl::Status answer = absl::OkStatus()) : answer_(std::move(answer)) {}

  absl::Status OnServerStart(const ServerStartRequest&) override { return Answer(); }
  absl::Status OnClientConnect(const ClientConnectRequest&) override { return Answer(); }
  absl::Status OnTunnelOpen(const TunnelOpenRequest&) override { return Answer(); }
  absl::Status OnVisitorConnect(const VisitorConnectRequest&) override { return Answer(); }
  void OnTunnelClose(const TunnelCloseRequest& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    closed_.push_back(r.tunnel_id());
  }

  int asked() const { return asked_; }
  std::vector<std::string> closed() {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

 private:
  absl::Status Answer() {
    ++asked_;
    return answer_;
  }

  const absl::Status answer_;
  std::atomic<int> asked_{0};
  std::mutex mu_;
  std::vector<std::string> closed_;
};

class ThrowingHook : public Hook {
  absl::Status OnTunnelOpen(const TunnelOpenRequest&) override { throw std::runtime_error("boom"); }
  void OnTunnelClose(const TunnelCloseRequest&) override { throw std::runtime_error("boom"); }
};

// Overrides only the per-tunnel conveniences, relying on the default
// OnDataBatch.
class TrafficHook : public Hook {
 public:
  void OnDataSent(const TunnelTraffic& t) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("sent:" + t.tunnel_id() + ":" + std::to_string(t.bytes_sent()));
  }
  void OnDataReceived(const TunnelTraffic& t) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("received:" + t.tunnel_id() + ":" + std::to_string(t.bytes_received()));
  }
  std::vector<std::string> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> calls_;
};

HookServerOptions TestOptions(Strategy strategy = Strategy::kStopOnError,
                              Execution execution = Execution::kThreadPool) {
  HookServerOptions options;
  options.address = "127.0.0.1:0";
  options.strategy = strategy;
  options.handle_signals = false;
  options.shutdown_grace = std::chrono::milliseconds(200);
  options.execution = execution;
  return options;
}

// Every HookServer test runs against both front ends: hook code on a pool
// thread (the default) and inline on gRPC's callback thread must answer
// alike.
class HookdServerTest : public ::testing::TestWithParam<Execution> {
 protected:
  static HookServerOptions Options(Strategy strategy = Strategy::kStopOnError) {
    return TestOptions(strategy, GetParam());
  }
};

std::unique_ptr<pb::HookService::Stub> Connect(const std::string& target) {
  return pb::HookService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
}

grpc::Status OpenTunnel(pb::HookService::Stub& stub, pb::DecisionResponse* response,
                        const std::string& name = "web") {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  pb::TunnelOpenRequest request;
  request.set_client_id("c1");
  request.set_tunnel_id("t1");
  request.set_tunnel_name(name);
  return stub.OnTunnelOpen(&context, request, response);
}

TEST_P(HookdServerTest, BindsPortZeroAndExposesThePort) {
  FixedHook hook;
  HookServer server(Options());
  server.AddHook(&hook);
  ASSERT_TRUE(server.Start().ok());
  EXPECT_GT(server.port(), 0);
  EXPECT_EQ(server.address(), "127.0.0.1:" + std::to_string(server.port()));
}

TEST_P(HookdServerTest, AllowsWhenTheHookAllows) {
  FixedHook hook;
  HookServer server(Options());
  server.AddHook(&hook);
  ASSERT_TRUE(server.Start().ok());
  auto stub = Connect(server.address());
  pb::DecisionResponse response;
  ASSERT_TRUE(OpenTunnel(*stub, &response).ok());
  EXPECT_EQ(response.decision(), pb::ALLOW);
  EXPECT_EQ(response.reason(), "");
  EXPECT_EQ(hook.asked(), 1);
}

// An event the hook does not implement is never an allow: the call fails
// with UNIMPLEMENTED, which the server hands to its failure policy.
TEST_P(HookdServerTest, EventsNoHookImplementsAnswerUnimplemented) {
  Hook hook;
  HookServer server(Options());
  server.AddHook(&hook);
  ASSERT_TRUE(server.Start().ok());
  auto stub = Connect(server.address());
  pb::DecisionResponse response;
  grpc::Status status = OpenTunnel(*stub, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(response.decision(), pb::DECISION_UNSPECIFIED);

  grpc::ClientContext context;
  pb::Ack ack;
  EXPECT_EQ(stub->OnTunnelClose(&context, pb::TunnelCloseRequest(), &ack).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);

  grpc::ClientContext stream_context;
  auto writer = stub->StreamDataEvents(&stream_context, &ack);
  writer->Write(pb::DataBatch());  // may fail: the hook may have answered already
  writer->WritesDone();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

// Hooks that do not implement an event have no say in it, whatever the
// strategy: a tunnel-only hook cannot veto agents, nor let them in.
TEST_P(HookdServerTest, OnlyHooksImplementingTheEventAreAsked) {
  class TunnelOnly : public Hook {
    absl::Status OnTunnelOpen(const TunnelOpenRequest&) override {
      return Deny("tunnel hook says no");
    }
  };
  class AgentOnly : public Hook {
    absl::Status OnClientConnect(const ClientConnectRequest&) override {
      return Deny("agent hook says no");
    }
  };
  for (Strategy strategy : {Strategy::kStopOnError, Strategy::kCollectAndContinue}) {
    TunnelOnly tunnels;
    AgentOnly agents;
    HookServer server(Options(strategy));
    server.AddHook(&tunnels);
    server.AddHook(&agents);
    ASSERT_TRUE(server.Start().ok());
    auto stub = Connect(server.address());
    grpc::ClientContext context;
    pb::DecisionResponse response;
    ASSERT_TRUE(stub->OnClientConnect(&context, pb::ClientConnectRequest(), &response).ok());
    EXPECT_EQ(response.reason(), "agent hook says no");
    ASSERT_TRUE(OpenTunnel(*stub, &response).ok());
    EXPECT_EQ(response.reason(), "tunnel hook says no");
  }
}

TEST_P(HookdServerTest, StopOnErrorStopsAtTheFirstDeny) {
  FixedHook first;
  FixedHook denier(Deny("second says no"));
  FixedHook last(Deny("never asked"));
  HookServer server(Options(Strategy::kStopOnError));
  server.AddHook(&first);
  server.AddHook(&denier);
  server.AddHook(&last);
  ASSERT_TRUE(server.Start().ok());
  auto stub = Connect(server.address());

  pb::DecisionResponse response;
  ASSERT_TRUE(OpenTunnel(*stub, &response).ok());
  EXPECT_EQ(response.decision(), pb::DENY);
  EXPECT_EQ(response.reason(), "second says no");
  EXPECT_EQ(first.asked(), 1);
  EXPECT_EQ(denier.asked(), 1);
  EXPECT_EQ(last.asked(), 0);
}

TEST_P(HookdServerTest, CollectAndContinueAsksEveryHookAndJoinsReasons) {
  FixedHook a(Deny("a says no"));
  FixedHook b;
  FixedHook c(absl::InvalidArgumentError("c says no"));  // any non-UNAVAILABLE code denies
  HookServer server(Options(Strategy::kCollectAndContinue));
  server.AddHook(&a);
  server.AddHook(&b);
  server.AddHook(&c);
  ASSERT_TRUE(server.Start().ok());
  auto stub = Connect(server.address());

  grpc::ClientContext context;
  pb::DecisionResponse response;
  ASSERT_TRUE(stub->OnClientConnect(&context, pb::ClientConnectRequest(), &response).ok());
  EXPECT_EQ(response.decision(), pb::DENY);
  EXPECT_EQ(response.reason(), "a says no; c says no");
  EXPECT_EQ(a.asked(), 1);
  EXPECT_EQ(b.asked(), 1);
  EXPECT_EQ(c.asked(), 1);
}

TEST_P(HookdServerTest, CollectAndContinueAllowsWhenAllAllow) {
  FixedHook a;
  FixedHook b;
  HookServer server(Options(Strategy::kCollectAndContinue));
  server.AddHook(&a);
  server.AddHook(&b);
  ASSERT_TRUE(server.Start().ok());
  auto stub = Connect(server.address());
  pb::DecisionResponse response;
  ASSERT_TRUE(OpenTunnel(*stub, &response).ok());
  EXPECT_EQ(response.decision(), pb::ALLOW);
  EXPECT_EQ(a.asked() + b.asked(), 2);
}

TEST_P(HookdServerTest, UnavailableIsReturnedAsGrpcUnavailable) {
  FixedHook undecided(CannotDecide("policy database unreachable"));
  HookServer server(Options());
  server.AddHook(&undecided);
  ASSERT_TRUE(server.Start().ok());
  auto stub = Connect(server.address());
  pb::DecisionResponse response;
  grpc::Status status = OpenTunnel(*stub, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "policy database unreachable");
}

TEST_P(HookdServerTest, StopOnErrorAlsoStopsAtAnUndecidedHook) {
  FixedHook undecided(CannotDecide("db down"));
  FixedHook denier(Deny("no"));
  HookServer server(Options(Strategy::kStopOnError));
  server.AddHook(&undecided);
  server.AddHook(&denier);
  ASSERT_TRUE(server.Start().ok());
  auto stub = Connect(server.address());
  pb::DecisionResponse response;
  EXPECT_EQ(OpenTunnel(*stub, &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(denier.asked(), 0);
}

TEST_P(HookdServerTest, CollectAndContinueDenyWinsOverUndecided) {
  FixedHook undecided(CannotDecide("db down"));
  FixedHook denier(Deny("no"));
  FixedHook undecided2(CannotDecide("cache down"));
  HookServer server(Options(Strategy::kCollectAndContinue));
  server.AddHook(&undecided);
  server.AddHook(&denier);
  server.AddHook(&undecided2);
  ASSERT_TRUE(server.Start().ok());
  auto stub = Connect(server.address());
  pb::DecisionResponse response;
  ASSERT_TRUE(OpenTunnel(*stub, &response).ok());
  EXPECT_EQ(response.decision(), pb::DENY);
  EXPECT_EQ(response.reason(), "no");
}

TEST_P(HookdServerTest, CollectAndContinueJoinsUndecidedMessages) {
  FixedHook a(CannotDecide("db down"));
  FixedHook b;
  FixedHook c(CannotDecide("cache down"));
  HookServer server(Options(Strategy::kCollectAndContinue));
  server.AddHook(&a);
  server.AddHook(&b);
  server.AddHook(&c);
  ASSERT_TRUE(server.Start().ok());
  auto stub = Connect(server.address());
  pb::DecisionResponse response;
  grpc::Status status = OpenTunnel(*stub, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "db down; cache down");
}

TEST_P(HookdServerTest, DenyWithoutMessageStillGivesAReason) {
  FixedHook denier(absl::PermissionDeniedError(""));
  HookServer server(Options());
  server.AddHook(&denier);
  ASSERT_TRUE(server.Start().ok());
  auto stub = Connect(server.address());
  pb::DecisionResponse response;
  ASSERT_TRUE(OpenTunnel(*stub, &response).ok());
  EXPECT_EQ(response.decision(), pb::DENY);
  EXPECT_EQ(response.reason(), "denied by hook");
}

TEST_P(HookdServerTest, ThrowingHookIsUndecidedAndDoesNotStopNotifications) {
  ThrowingHook thrower;
  FixedHook after;
  HookServer server(Options());
  server.AddHook(&thrower);
  server.AddHook(&after);
  ASSERT_TRUE(server.Start().ok());
  auto stub = Connect(server.address());
  pb::DecisionResponse response;
  grpc::Status status = OpenTunnel(*stub, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "OnTunnelOpen: hook threw: boom");

  grpc::ClientContext context;
  pb::TunnelCloseRequest close;
  close.set_tunnel_id("t9");
  pb::Ack ack;
  ASSERT_TRUE(stub->OnTunnelClose(&context, close, &ack).ok());
  EXPECT_THAT(after.closed(), ElementsAre("t9"));
}

TEST_P(HookdServerTest, NotificationsReachEveryHookWhateverTheStrategy) {
  FixedHook denier(Deny("no"));
  FixedHook other;
  HookServer server(Options(Strategy::kStopOnError));
  server.AddHook(&denier);
  server.AddHook(&other);
  ASSERT_TRUE(server.Start().ok());
  auto stub = Connect(server.address());
  grpc::ClientContext context;
  pb::TunnelCloseRequest close;
  close.set_tunnel_id("t1");
  pb::Ack ack;
  ASSERT_TRUE(stub->OnTunnelClose(&context, close, &ack).ok());
  EXPECT_THAT(denier.closed(), ElementsAre("t1"));
  EXPECT_THAT(other.closed(), ElementsAre("t1"));
}

TEST_P(HookdServerTest, DefaultOnDataBatchCallsPerTunnelConveniences) {
  TrafficHook hook;
  HookServer server(Options());
  server.AddHook(&hook);
  ASSERT_TRUE(server.Start().ok());
  auto stub = Connect(server.address());

  grpc::ClientContext context;
  pb::Ack ack;
  std::unique_ptr<grpc::ClientWriter<pb::DataBatch>> writer =
      stub->StreamDataEvents(&context, &ack);
  pb::DataBatch batch;
  batch.set_sequence(1);
  auto add = [&batch](const std::string& id, uint64_t sent, uint64_t received) {
    pb::TunnelTraffic* t = batch.add_tunnels();
    t->set_tunnel_id(id);
    t->set_bytes_sent(sent);
    t->set_bytes_received(received);
  };
  add("only-sent", 10, 0);
  add("only-received", 0, 5);
  add("idle", 0, 0);
  add("both", 7, 3);
  ASSERT_TRUE(writer->Write(batch));
  batch.Clear();
  batch.set_sequence(2);
  add("only-sent", 1, 0);
  ASSERT_TRUE(writer->Write(batch));
  ASSERT_TRUE(writer->WritesDone());
  ASSERT_TRUE(writer->Finish().ok());

  EXPECT_THAT(hook.calls(), ElementsAre("sent:only-sent:10", "received:only-received:5",
                                        "sent:both:7", "received:both:3", "sent:only-sent:1"));
}

// grpc.health.v1 without generated stubs: HealthCheckRequest{service} is
// field 1 (string); a SERVING HealthCheckResponse is field 1 = 1, "\x08\x01".
std::string HealthCheck(const std::string& target, const std::string& service,
                        grpc::StatusCode* code) {
  grpc::GenericStub stub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  std::string request;
  if (!service.empty()) {
    request = std::string("\x0a", 1) + static_cast<char>(service.size()) + service;
  }
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check", request_buffer, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  EXPECT_TRUE(cq.Next(&tag, &ok));
  *code = status.error_code();
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (status.ok() && response.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices)
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return bytes;
}

TEST_P(HookdServerTest, ServesHealthServing) {
  Hook hook;
  HookServer server(Options());
  server.AddHook(&hook);
  ASSERT_TRUE(server.Start().ok());
  grpc::StatusCode code;
  EXPECT_EQ(HealthCheck(server.address(), "", &code), std::string("\x08\x01", 2));
  EXPECT_EQ(code, grpc::StatusCode::OK);
  EXPECT_EQ(HealthCheck(server.address(), "reitunnel.hook.v1.HookService", &code),
            std::string("\x08\x01", 2));
  EXPECT_EQ(code, grpc::StatusCode::OK);
}

TEST_P(HookdServerTest, ServesReflection) {
  Hook hook;
  HookServer server(Options());
  server.AddHook(&hook);
  ASSERT_TRUE(server.Start().ok());

  grpc::GenericStub stub(grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  auto step = [&] { return cq.Next(&tag, &ok) && ok; };
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(step());
  // ServerReflectionRequest{list_services: ""}: field 7, length 0.
  grpc::Slice slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&slice, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  ASSERT_TRUE(step());
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(3));
  ASSERT_TRUE(step());
  call->WritesDone(reinterpret_cast<void*>(4));
  ASSERT_TRUE(step());
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  ASSERT_TRUE(step());
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_NE(bytes.find("reitunnel.hook.v1.HookService"), std::string::npos);
  EXPECT_NE(bytes.find("grpc.health.v1.Health"), std::string::npos);
}

TEST_P(HookdServerTest, ServesOnAUnixSocket) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("hookd-test-" + std::to_string(getpid()) + ".sock"))
                               .string();
  FixedHook denier(Deny("no"));
  HookServerOptions options = Options();
  options.address = "unix://" + path;
  options.max_threads = 4;
  HookServer server(options);
  server.AddHook(&denier);
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(server.port(), 0);
  EXPECT_EQ(server.address(), "unix://" + path);
  auto stub = Connect(server.address());
  pb::DecisionResponse response;
  ASSERT_TRUE(OpenTunnel(*stub, &response).ok());
  EXPECT_EQ(response.decision(), pb::DENY);
  server.Shutdown();
  std::filesystem::remove(path);
}

TEST_P(HookdServerTest, StartErrors) {
  {
    HookServer server(Options());
    EXPECT_EQ(server.Start().code(), absl::StatusCode::kInvalidArgument);  // no hooks
  }
  Hook hook;
  for (const char* address : {"localhost", "127.0.0.1:http", "127.0.0.1:70000"}) {
    HookServerOptions options = Options();
    options.address = address;
    HookServer server(options);
    server.AddHook(&hook);
    absl::Status status = server.Start();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << address;
    EXPECT_NE(status.message().find(address), absl::string_view::npos) << status;
  }
  {
    HookServerOptions options = Options();
    options.tls_key_file = "/nonexistent/key.pem";
    HookServer server(options);
    server.AddHook(&hook);
    EXPECT_EQ(server.Start().code(), absl::StatusCode::kInvalidArgument);
  }
  {
    HookServerOptions options = Options();
    options.tls_cert_file = "/nonexistent/cert.pem";
    options.tls_key_file = "/nonexistent/key.pem";
    HookServer server(options);
    server.AddHook(&hook);
    absl::Status status = server.Start();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find("/nonexistent/cert.pem"), absl::string_view::npos) << status;
  }
  {
    // The port is taken by a first server.
    HookServer first(Options());
    first.AddHook(&hook);
    ASSERT_TRUE(first.Start().ok());
    HookServerOptions options = Options();
    options.address = first.address();
    HookServer second(options);
    second.AddHook(&hook);
    EXPECT_EQ(second.Start().code(), absl::StatusCode::kUnavailable);
  }
}

TEST_P(HookdServerTest, WaitReturnsOnSigterm) {
  Hook hook;
  HookServerOptions options = Options();
  options.handle_signals = true;
  HookServer server(options);
  server.AddHook(&hook);
  ASSERT_TRUE(server.Start().ok());
  std::thread killer([] { kill(getpid(), SIGTERM); });
  server.Wait();
  killer.join();
  EXPECT_EQ(server.stop_signal(), SIGTERM);
  // Down: new calls fail.
  auto stub = Connect(server.address());
  pb::DecisionResponse response;
  EXPECT_FALSE(OpenTunnel(*stub, &response).ok());
  // The previous SIGTERM disposition is back once the server is down.
  struct sigaction current;
  sigaction(SIGTERM, nullptr, &current);
  EXPECT_EQ(current.sa_handler, SIG_DFL);
}

TEST_P(HookdServerTest, ShutdownFromAnotherThreadEndsWaitAndCancelsTheDataStream) {
  TrafficHook hook;
  HookServer server(Options());
  server.AddHook(&hook);
  ASSERT_TRUE(server.Start().ok());
  // An open data stream, as the server keeps one: shutdown must not wait for
  // it beyond the grace period.
  auto stub = Connect(server.address());
  grpc::ClientContext context;
  pb::Ack ack;
  auto writer = stub->StreamDataEvents(&context, &ack);
  ASSERT_TRUE(writer->Write(pb::DataBatch()));

  const auto start = std::chrono::steady_clock::now();
  std::thread stopper([&server] { server.Shutdown(); });
  server.Wait();
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(server.stop_signal(), 0);
  EXPECT_FALSE(writer->Finish().ok());
}

INSTANTIATE_TEST_SUITE_P(BothExecutions, HookdServerTest,
                         ::testing::Values(Execution::kThreadPool, Execution::kInline),
                         [](const ::testing::TestParamInfo<Execution>& info) {
                           return info.param == Execution::kInline ? "Inline" : "ThreadPool";
                         });

// TLS and mTLS, with certificates made by the openssl CLI.
class HookdTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hookd-tls-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "gen.sh") << R"(set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout ca.key -out ca.pem -days 1 -subj /CN=test-ca 2>/dev/null
for who in server client; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout $who.key -out $who.csr -subj /CN=localhost 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > $who.ext
  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out $who.pem -days 1 -extfile $who.ext 2>/dev/null
done
)";
    const std::string command = "cd '" + dir_.string() + "' && bash gen.sh";
    ASSERT_EQ(std::system(command.c_str()), 0) << "openssl failed";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string File(const std::string& name) const { return (dir_ / name).string(); }
  std::string Read(const std::string& name) const {
    std::ifstream in(File(name));
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::unique_ptr<pb::HookService::Stub> ConnectTls(const std::string& target, bool client_cert) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Read("ca.pem");
    if (client_cert) {
      ssl.pem_private_key = Read("client.key");
      ssl.pem_cert_chain = Read("client.pem");
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return pb::HookService::NewStub(
        grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args));
  }

  std::filesystem::path dir_;
};

TEST_F(HookdTlsTest, ServesTls) {
  FixedHook denier(Deny("over tls"));
  HookServerOptions options = TestOptions();
  options.tls_cert_file = File("server.pem");
  options.tls_key_file = File("server.key");
  HookServer server(options);
  server.AddHook(&denier);
  ASSERT_TRUE(server.Start().ok());

  pb::DecisionResponse response;
  ASSERT_TRUE(OpenTunnel(*ConnectTls(server.address(), false), &response).ok());
  EXPECT_EQ(response.reason(), "over tls");
  // A plaintext client gets nowhere.
  EXPECT_FALSE(OpenTunnel(*Connect(server.address()), &response).ok());
}

TEST_F(HookdTlsTest, MutualTlsRequiresAClientCertificate) {
  FixedHook denier(Deny("over mtls"));
  HookServerOptions options = TestOptions();
  options.tls_cert_file = File("server.pem");
  options.tls_key_file = File("server.key");
  options.tls_client_ca_file = File("ca.pem");
  HookServer server(options);
  server.AddHook(&denier);
  ASSERT_TRUE(server.Start().ok());

  pb::DecisionResponse response;
  EXPECT_FALSE(OpenTunnel(*ConnectTls(server.address(), false), &response).ok());
  ASSERT_TRUE(OpenTunnel(*ConnectTls(server.address(), true), &response).ok());
  EXPECT_EQ(response.reason(), "over mtls");
}

TEST(HookdFlagsTest, ParsesSharedFlagsAndLeavesTheRest) {
  const char* argv[] = {"hook",
                        "--listen=0.0.0.0:7200",
                        "--strategy=collect_and_continue",
                        "--execution=inline",
                        "--tls-cert=c.pem",
                        "--tls-key=k.pem",
                        "--tls-client-ca=ca.pem",
                        "--quota-bytes=5",
                        "positional"};
  std::vector<std::string> rest;
  absl::StatusOr<HookServerOptions> options = ParseServerFlags(9, argv, &rest);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->address, "0.0.0.0:7200");
  EXPECT_EQ(options->strategy, Strategy::kCollectAndContinue);
  EXPECT_EQ(options->execution, Execution::kInline);
  EXPECT_EQ(options->tls_cert_file, "c.pem");
  EXPECT_EQ(options->tls_key_file, "k.pem");
  EXPECT_EQ(options->tls_client_ca_file, "ca.pem");
  EXPECT_THAT(rest, ElementsAre("--quota-bytes=5", "positional"));
}

TEST(HookdFlagsTest, RejectsBadValuesAndUnknownFlags) {
  const char* bad_strategy[] = {"hook", "--strategy=first_wins"};
  EXPECT_EQ(ParseServerFlags(2, bad_strategy).status().code(), absl::StatusCode::kInvalidArgument);
  const char* unknown[] = {"hook", "--listen-port=1"};
  absl::Status status = ParseServerFlags(2, unknown).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("--listen-port=1"), absl::string_view::npos);
  const char* bad_execution[] = {"hook", "--execution=fast"};
  status = ParseServerFlags(2, bad_execution).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("thread_pool|inline"), absl::string_view::npos);
  const char* defaults[] = {"hook"};
  EXPECT_EQ(ParseServerFlags(1, defaults)->address, "127.0.0.1:7100");
  EXPECT_EQ(ParseServerFlags(1, defaults)->execution, Execution::kThreadPool);
}

// A program with no flags of its own (unparsed == nullptr) still answers
// --help: with the shared flags, exit 0.
TEST(HookdFlagsTest, HelpWithoutProgramFlagsExitsZero) {
  const char* help[] = {"hook", "--help"};
  EXPECT_EXIT(ParseServerFlags(2, help), ::testing::ExitedWithCode(0), "");
  // With unparsed, --help is the program's to answer.
  std::vector<std::string> rest;
  ASSERT_TRUE(ParseServerFlags(2, help, &rest).ok());
  EXPECT_THAT(rest, ElementsAre("--help"));
}

TEST(HookdMetadataTest, FindsLabelsAndValues) {
  Metadata metadata;
  metadata["label.team"] = "blue";
  metadata["remote_addr"] = "10.0.0.1:5000";
  EXPECT_EQ(FindLabel(metadata, "team"), "blue");
  EXPECT_EQ(FindLabel(metadata, "zone"), std::nullopt);
  EXPECT_EQ(FindMetadata(metadata, "remote_addr"), "10.0.0.1:5000");
  EXPECT_EQ(FindMetadata(metadata, "team"), std::nullopt);
}

}  // namespace
}  // namespace reitunnel::hookd
