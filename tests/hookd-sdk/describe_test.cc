// Describe: HookServer declares exactly the events its hooks override, seen
// at compile time from the hook's class, or at run time from
// ImplementedEvents(), and answers the Describe RPC with them.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reitunnel/hook/v1/hook.grpc.pb.h"
#include "reitunnel/hookd/events.h"
#include "reitunnel/hookd/hook.h"
#include "reitunnel/hookd/hook_server.h"
#include "reitunnel/hookd/overridden_events.h"

namespace reitunnel::hookd {
namespace {

namespace pb = ::reitunnel::hook::v1;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Overrides in the public section.
class TunnelVeto : public Hook {
 public:
  absl::Status OnTunnelOpen(const TunnelOpenRequest&) override { return Deny("no"); }
  void OnTunnelClose(const TunnelCloseRequest&) override {}
};

// Overrides in the private section, as hook classes often do.
class PrivateAgentVeto : public Hook {
  absl::Status OnClientConnect(const ClientConnectRequest&) override { return Allow(); }
  void OnClientDisconnect(const ClientDisconnectRequest&) override {}
};

// Protected overrides, and a class derived from it that adds one more: both
// the intermediate's overrides and the leaf's count.
class ProtectedErrors : public Hook {
 protected:
  void OnError(const ErrorEvent&) override {}
};
class ErrorsAndServerStart final : public ProtectedErrors {
 public:
  absl::Status OnServerStart(const ServerStartRequest&) override { return Allow(); }
};

// Each of the three data methods alone means "data".
class BatchCounter : public Hook {
  void OnDataBatch(const DataBatch&) override {}
};
class SentCounter : public Hook {
  void OnDataSent(const TunnelTraffic&) override {}
};
class ReceivedCounter : public Hook {
 public:
  void OnDataReceived(const TunnelTraffic&) override {}
};

class Everything : public Hook {
 public:
  absl::Status OnServerStart(const ServerStartRequest&) override { return Allow(); }
  absl::Status OnClientConnect(const ClientConnectRequest&) override { return Allow(); }
  absl::Status OnTunnelOpen(const TunnelOpenRequest&) override { return Allow(); }
  absl::Status OnVisitorConnect(const VisitorConnectRequest&) override { return Allow(); }
  void OnServerStop(const ServerStopRequest&) override {}
  void OnClientDisconnect(const ClientDisconnectRequest&) override {}
  void OnTunnelClose(const TunnelCloseRequest&) override {}
  void OnError(const ErrorEvent&) override {}
  void OnVisitorDisconnect(const VisitorDisconnectRequest&) override {}
  void OnDataBatch(const DataBatch&) override {}
};

// Decides its events at run time, and overrides a method it does not list.
class RuntimeChosen : public Hook {
 public:
  explicit RuntimeChosen(std::vector<std::string> events) : events_(std::move(events)) {}
  std::optional<std::vector<std::string>> ImplementedEvents() const override { return events_; }
  absl::Status OnTunnelOpen(const TunnelOpenRequest&) override { return Deny("runtime says no"); }

 private:
  std::vector<std::string> events_;
};

// The detection is a constant expression.
static_assert(OverriddenEvents<Hook>().empty());
static_assert(OverriddenEvents<TunnelVeto>() ==
              EventSet().Add(Event::kTunnelOpen).Add(Event::kTunnelClose));
static_assert(OverriddenEvents<PrivateAgentVeto>() ==
              EventSet().Add(Event::kClientConnect).Add(Event::kClientDisconnect));
static_assert(OverriddenEvents<ProtectedErrors>() == EventSet().Add(Event::kError));
static_assert(OverriddenEvents<ErrorsAndServerStart>() ==
              EventSet().Add(Event::kError).Add(Event::kServerStart));
static_assert(OverriddenEvents<BatchCounter>() == EventSet().Add(Event::kData));
static_assert(OverriddenEvents<SentCounter>() == EventSet().Add(Event::kData));
static_assert(OverriddenEvents<ReceivedCounter>() == EventSet().Add(Event::kData));
static_assert(OverriddenEvents<Everything>() == EventSet::All());
static_assert(OverriddenEvents<RuntimeChosen>() == EventSet().Add(Event::kTunnelOpen));

HookServerOptions TestOptions() {
  HookServerOptions options;
  options.address = "127.0.0.1:0";
  options.handle_signals = false;
  options.shutdown_grace = std::chrono::milliseconds(200);
  return options;
}

// The Describe answer of a started server.
pb::DescribeResponse Describe(const HookServer& server) {
  auto stub = pb::HookService::NewStub(
      grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  pb::DescribeResponse response;
  grpc::Status status = stub->Describe(&context, pb::DescribeRequest(), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

std::vector<std::string> Events(const pb::DescribeResponse& response) {
  return {response.events().begin(), response.events().end()};
}

TEST(HookdDescribeTest, EventNamesRoundTrip) {
  EXPECT_EQ(EventSet::All().Names().size(), static_cast<size_t>(kEventCount));
  for (const std::string& name : EventSet::All().Names()) {
    ASSERT_TRUE(EventFromName(name).has_value()) << name;
    EXPECT_EQ(EventName(*EventFromName(name)), name);
  }
  EXPECT_EQ(EventFromName("tunnel-open"), std::nullopt);
  EXPECT_EQ(EventName(Event::kData), "data");
}

TEST(HookdDescribeTest, ListsExactlyTheOverriddenEvents) {
  struct Case {
    std::unique_ptr<HookServer> server;
    std::vector<std::string> want;
  };
  std::vector<Case> cases;
  auto add = [&cases](auto hook, std::vector<std::string> want) {
    auto server = std::make_unique<HookServer>(TestOptions());
    server->AddHook(std::move(hook));
    cases.push_back({std::move(server), std::move(want)});
  };
  add(std::make_unique<TunnelVeto>(), {"tunnel_open", "tunnel_close"});
  add(std::make_unique<PrivateAgentVeto>(), {"client_connect", "client_disconnect"});
  add(std::make_unique<ErrorsAndServerStart>(), {"server_start", "error"});
  add(std::make_unique<SentCounter>(), {"data"});
  add(std::make_unique<Hook>(), {});
  add(std::make_unique<Everything>(),
      {"server_start", "server_stop", "client_connect", "client_disconnect", "tunnel_open",
       "tunnel_close", "data", "error", "visitor_connect", "visitor_disconnect"});
  for (Case& c : cases) {
    ASSERT_TRUE(c.server->Start().ok());
    EXPECT_EQ(Events(Describe(*c.server)), c.want);
    EXPECT_EQ(c.server->implemented_events().Names(), c.want);
  }
}

TEST(HookdDescribeTest, SeveralHooksDeclareTheUnion) {
  TunnelVeto tunnels;
  PrivateAgentVeto agents;
  BatchCounter data;
  HookServerOptions options = TestOptions();
  options.name = "policy-hook/1.2";
  HookServer server(options);
  server.AddHook(&tunnels);
  server.AddHook(&agents);
  server.AddHook(std::make_unique<ReceivedCounter>());
  server.AddHook(&data);
  ASSERT_TRUE(server.Start().ok());
  pb::DescribeResponse response = Describe(server);
  EXPECT_THAT(Events(response), ElementsAre("client_connect", "client_disconnect", "tunnel_open",
                                            "tunnel_close", "data"));
  EXPECT_EQ(response.sdk(), "reitunnel-hookd-cpp/" REITUNNEL_TEST_VERSION);
  EXPECT_EQ(response.name(), "policy-hook/1.2");
}

TEST(HookdDescribeTest, DescribeIsAnsweredInlineToo) {
  HookServerOptions options = TestOptions();
  options.execution = Execution::kInline;
  HookServer server(options);
  server.AddHook(std::make_unique<TunnelVeto>());
  ASSERT_TRUE(server.Start().ok());
  EXPECT_THAT(Events(Describe(server)), ElementsAre("tunnel_open", "tunnel_close"));
}

TEST(HookdDescribeTest, ImplementedEventsOverridesTheCompileTimeView) {
  RuntimeChosen runtime({"visitor_connect", "error"});
  HookServer server(TestOptions());
  server.AddHook(&runtime);
  ASSERT_TRUE(server.Start().ok());
  EXPECT_THAT(Events(Describe(server)), UnorderedElementsAre("error", "visitor_connect"));

  auto stub = pb::HookService::NewStub(
      grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));
  pb::DecisionResponse response;
  {
    // Overridden but not listed: not this hook's event any more.
    grpc::ClientContext context;
    EXPECT_EQ(stub->OnTunnelOpen(&context, pb::TunnelOpenRequest(), &response).error_code(),
              grpc::StatusCode::UNIMPLEMENTED);
  }
  {
    // Listed but not overridden: the base class cannot decide, never allows.
    grpc::ClientContext context;
    grpc::Status status = stub->OnVisitorConnect(&context, pb::VisitorConnectRequest(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(status.error_message(), "OnVisitorConnect is not implemented by this hook");
  }
}

TEST(HookdDescribeTest, UnknownRuntimeEventIsAStartError) {
  RuntimeChosen runtime({"tunnel_open", "tunnel-close"});
  HookServer server(TestOptions());
  server.AddHook(&runtime);
  absl::Status status = server.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("unknown event \"tunnel-close\""), absl::string_view::npos)
      << status;
}

// Added through a pointer to a base class, a hook's own overrides are out of
// sight: Start() refuses rather than declare too little.
TEST(HookdDescribeTest, TypeErasedHookWithoutImplementedEventsIsAStartError) {
  std::unique_ptr<Hook> erased = std::make_unique<TunnelVeto>();
  HookServer server(TestOptions());
  server.AddHook(std::move(erased));
  absl::Status status = server.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("TunnelVeto"), absl::string_view::npos) << status;
  EXPECT_NE(status.message().find("ImplementedEvents()"), absl::string_view::npos) << status;

  ErrorsAndServerStart leaf;
  ProtectedErrors* intermediate = &leaf;
  HookServer partial(TestOptions());
  partial.AddHook(intermediate);
  EXPECT_EQ(partial.Start().code(), absl::StatusCode::kInvalidArgument);
}

TEST(HookdDescribeTest, TypeErasedHookWithImplementedEventsIsFine) {
  std::unique_ptr<Hook> erased =
      std::make_unique<RuntimeChosen>(std::vector<std::string>{"tunnel_open"});
  // A plain Hook object through a Hook* is exactly known: it implements nothing.
  Hook plain;
  HookServer server(TestOptions());
  server.AddHook(std::move(erased));
  server.AddHook(&plain);
  ASSERT_TRUE(server.Start().ok());
  EXPECT_THAT(Events(Describe(server)), ElementsAre("tunnel_open"));
}

TEST(HookdDescribeTest, HookWithoutOverridesDeclaresNothing) {
  Hook hook;
  HookServer server(TestOptions());
  server.AddHook(&hook);
  ASSERT_TRUE(server.Start().ok());
  pb::DescribeResponse response = Describe(server);
  EXPECT_THAT(Events(response), IsEmpty());
  EXPECT_EQ(response.sdk(), "reitunnel-hookd-cpp/" REITUNNEL_TEST_VERSION);
}

}  // namespace
}  // namespace reitunnel::hookd
