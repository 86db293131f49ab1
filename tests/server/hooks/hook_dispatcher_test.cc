#include "server/hooks/hook_dispatcher.h"

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "asio/co_spawn.hpp"
#include "asio/executor_work_guard.hpp"
#include "asio/io_context.hpp"
#include "gtest/gtest.h"
#include "server/hooks/fake_hook_client.h"
#include "server/hooks/make_dispatcher.h"

namespace reitunnel::server {
namespace {

namespace hv1 = hook::v1;
using std::chrono::milliseconds;

struct Harness {
  asio::io_context io;
  std::vector<FakeHookClient*> fakes;
  std::unique_ptr<HookDispatcher> dispatcher;
  // Describe answers for the hooks to build (default: every event).
  std::vector<std::optional<std::vector<std::string>>> implemented;
  bool explicit_events = true;

  // `policies[i]` is hook i's failure policy; every hook sees every event.
  void Build(std::vector<std::string> policies, std::string strategy = "stop_on_error",
             uint32_t queue_size = 0, uint32_t max_pending_batches = 0) {
    config::v1::ServerConfig cfg;
    cfg.mutable_hook_settings()->set_strategy(strategy);
    cfg.mutable_hook_settings()->set_max_pending_batches(max_pending_batches);
    for (size_t i = 0; i < policies.size(); ++i) {
      auto* h = cfg.add_hooks();
      // StrCat, not "h" + ...: GCC 12 at -O3 reports a false -Wrestrict on
      // operator+ (GCC PR 105651).
      h->set_name(absl::StrCat("h", i));
      h->set_address("127.0.0.1:1");
      h->set_failure_policy(policies[i]);
      h->set_queue_size(queue_size);
      if (explicit_events) {
        for (auto e : {"client_connect", "tunnel_open", "tunnel_close", "client_disconnect", "data",
                       "error", "visitor_connect"}) {
          h->add_events(e);
        }
      }
    }
    ASSERT_TRUE(NormalizeHookConfig(&cfg).ok());
    std::vector<HookDispatcher::Hook> hooks;
    for (const auto& hc : cfg.hooks()) {
      auto fake = std::make_unique<FakeHookClient>();
      size_t i = fakes.size();
      if (i < implemented.size()) {
        fake->implemented = implemented[i];
      } else {
        fake->implemented = std::vector<std::string>();
        for (const auto& info : hooks::kHookEvents) fake->implemented->emplace_back(info.name);
      }
      fakes.push_back(fake.get());
      hooks.push_back({hc, std::move(fake)});
    }
    dispatcher = std::make_unique<HookDispatcher>(io.get_executor(), cfg.hook_settings(),
                                                  hv1::ServerInfo(), std::move(hooks));
  }

  // Asks every hook Describe, as the server does at start.
  absl::Status Ready(std::vector<std::string>* unreachable = nullptr) {
    absl::Status out = absl::UnknownError("unset");
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          out = co_await dispatcher->WaitUntilReady(milliseconds(2000), unreachable);
          done = true;
        },
        [](std::exception_ptr p) {
          if (p) std::rethrow_exception(p);
        });
    RunUntil([&] { return done; });
    return out;
  }

  HookDecision Decide(HookEvent e = HookEvent::kTunnelOpen) {
    HookDecision out{HookDecision::Kind::kDeny, "unset"};
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          hv1::TunnelOpenRequest req;
          req.set_tunnel_name("web");
          out = co_await dispatcher->Decide(e, std::move(req));
          done = true;
        },
        [](std::exception_ptr p) {
          if (p) std::rethrow_exception(p);
        });
    RunUntil([&] { return done; });
    return out;
  }

  template <typename Pred>
  void RunUntil(Pred pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
      io.run_for(milliseconds(5));
      io.restart();
    }
    ASSERT_TRUE(pred()) << "condition not reached before the deadline";
  }

  size_t CountCalls(FakeHookClient* f, HookEvent e) {
    size_t n = 0;
    for (auto& c : f->calls()) n += c.event == e;
    return n;
  }
};

TEST(HookDispatcherTest, AllowWhenEveryHookAllows) {
  Harness h;
  h.Build({"fail_closed", "fail_closed"});
  HookDecision d = h.Decide();
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(h.CountCalls(h.fakes[0], HookEvent::kTunnelOpen), 1u);
  EXPECT_EQ(h.CountCalls(h.fakes[1], HookEvent::kTunnelOpen), 1u);
}

TEST(HookDispatcherTest, StopOnErrorStopsAtFirstDenyWithItsReasonVerbatim) {
  Harness h;
  h.Build({"fail_closed", "fail_closed"});
  h.fakes[0]->decision = hv1::DENY;
  h.fakes[0]->reason = "tunnel name \"web\" is reserved";
  HookDecision d = h.Decide();
  EXPECT_FALSE(d.allowed());
  EXPECT_EQ(d.reason, "tunnel name \"web\" is reserved");
  EXPECT_EQ(h.CountCalls(h.fakes[1], HookEvent::kTunnelOpen), 0u) << "second hook must not run";
  auto hooks = h.dispatcher->Hooks();
  EXPECT_EQ(hooks[0].stats->denied.load(), 1u);
  EXPECT_EQ(hooks[1].stats->calls.load(), 0u);
}

TEST(HookDispatcherTest, CollectAndContinueAsksAllAndListsEveryReason) {
  Harness h;
  h.Build({"fail_closed", "fail_closed", "fail_closed"}, "collect_and_continue");
  h.fakes[0]->decision = hv1::DENY;
  h.fakes[0]->reason = "first says no";
  h.fakes[2]->decision = hv1::DENY;
  h.fakes[2]->reason = "third says no";
  HookDecision d = h.Decide();
  EXPECT_FALSE(d.allowed());
  EXPECT_EQ(d.reason, "first says no; third says no");
  for (auto* f : h.fakes) EXPECT_EQ(h.CountCalls(f, HookEvent::kTunnelOpen), 1u);
}

TEST(HookDispatcherTest, FailClosedDeniesOnTransportErrorAndCounts) {
  Harness h;
  h.Build({"fail_closed"});
  h.fakes[0]->decide_status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused");
  HookDecision d = h.Decide();
  EXPECT_FALSE(d.allowed());
  EXPECT_NE(d.reason.find("h0"), std::string::npos) << d.reason;
  auto hooks = h.dispatcher->Hooks();
  EXPECT_EQ(hooks[0].stats->errors.load(), 1u);
  EXPECT_EQ(hooks[0].stats->fail_open_allowances.load(), 0u);
}

TEST(HookDispatcherTest, FailOpenAllowsOnTimeoutAndCounts) {
  Harness h;
  h.Build({"fail_open"});
  h.fakes[0]->decide_status = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline");
  HookDecision d = h.Decide();
  EXPECT_TRUE(d.allowed());
  auto hooks = h.dispatcher->Hooks();
  EXPECT_EQ(hooks[0].stats->timeouts.load(), 1u);
  EXPECT_EQ(hooks[0].stats->fail_open_allowances.load(), 1u);
}

TEST(HookDispatcherTest, UnimplementedIsNeverAnAllowAndMissingDecisionIsAnError) {
  Harness h;
  h.Build({"fail_closed"});
  h.fakes[0]->decide_status = grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "");
  HookDecision d = h.Decide();
  EXPECT_EQ(d.kind, HookDecision::Kind::kUnavailable) << "UNIMPLEMENTED must not allow";
  h.fakes[0]->decide_status = grpc::Status::OK;
  h.fakes[0]->decision = hv1::DECISION_UNSPECIFIED;
  EXPECT_EQ(h.Decide().kind, HookDecision::Kind::kUnavailable);
  EXPECT_EQ(h.dispatcher->Hooks()[0].stats->errors.load(), 2u);
}

TEST(HookDispatcherTest, PolicyRefusalIsRetryableAndLeaksNoTransportDetail) {
  Harness h;
  h.Build({"fail_closed"});
  h.fakes[0]->decide_status =
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "ipv4:127.0.0.1:7101: Connection refused");
  HookDecision d = h.Decide();
  EXPECT_EQ(d.kind, HookDecision::Kind::kUnavailable);
  EXPECT_EQ(d.reason.find("127.0.0.1"), std::string::npos) << d.reason;
  EXPECT_EQ(d.reason.find("refused"), std::string::npos) << d.reason;
  // A real deny stays a deny.
  h.fakes[0]->decide_status = grpc::Status::OK;
  h.fakes[0]->decision = hv1::DENY;
  h.fakes[0]->reason = "no";
  EXPECT_EQ(h.Decide().kind, HookDecision::Kind::kDeny);
}

TEST(HookDispatcherTest, DefaultSubscriptionNarrowsToWhatTheHookImplements) {
  Harness h;
  h.explicit_events = false;
  h.implemented = {std::vector<std::string>{"tunnel_open"}};
  h.Build({"fail_closed"});
  ASSERT_TRUE(h.Ready().ok());
  EXPECT_TRUE(h.dispatcher->Subscribed(HookEvent::kTunnelOpen));
  EXPECT_FALSE(h.dispatcher->Subscribed(HookEvent::kClientConnect));
  EXPECT_FALSE(h.dispatcher->Subscribed(HookEvent::kTunnelClose));
  EXPECT_TRUE(h.Decide(HookEvent::kTunnelOpen).allowed());
  h.dispatcher->Notify(HookEvent::kTunnelClose, hv1::TunnelCloseRequest());
  h.io.poll();
  EXPECT_EQ(h.CountCalls(h.fakes[0], HookEvent::kTunnelClose), 0u)
      << "a notification the hook does not implement is not sent";
}

TEST(HookDispatcherTest, ExplicitlySubscribedBlockingEventNotImplementedIsAConfigError) {
  Harness h;
  h.implemented = {std::vector<std::string>{"tunnel_open"}};  // lacks client_connect
  h.Build({"fail_closed"});
  absl::Status st = h.Ready();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("client_connect"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("h0"), std::string::npos) << st.message();
  // At run time the policy decides, without calling the hook.
  HookDecision d = h.Decide(HookEvent::kClientConnect);
  EXPECT_EQ(d.kind, HookDecision::Kind::kUnavailable);
  EXPECT_EQ(h.CountCalls(h.fakes[0], HookEvent::kClientConnect), 0u);
}

TEST(HookDispatcherTest, HookWithoutDescribeIsAskedAndItsUnimplementedFailsClosed) {
  Harness h;
  h.implemented = {std::nullopt};  // Describe answers UNIMPLEMENTED
  h.Build({"fail_closed"});
  ASSERT_TRUE(h.Ready().ok());
  h.fakes[0]->decide_status = grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "");
  EXPECT_EQ(h.Decide().kind, HookDecision::Kind::kUnavailable);
  EXPECT_EQ(h.CountCalls(h.fakes[0], HookEvent::kTunnelOpen), 1u);
}

TEST(HookDispatcherTest, UnreachableHookIsReportedByWaitUntilReady) {
  Harness h;
  h.Build({"fail_closed"});
  h.fakes[0]->describe_status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "down");
  std::vector<std::string> unreachable;
  ASSERT_TRUE(h.Ready(&unreachable).ok());
  EXPECT_EQ(unreachable, std::vector<std::string>{"h0"});
  EXPECT_TRUE(h.dispatcher->FailsClosed("h0", HookEvent::kTunnelOpen));
}

TEST(HookDispatcherTest, DecisionAskedFromAnotherThreadResumesThere) {
  Harness h;
  h.Build({"fail_closed"});
  asio::io_context worker;
  auto guard = asio::make_work_guard(worker);
  std::thread t([&] { worker.run(); });
  const std::thread::id worker_id = t.get_id();
  std::atomic<bool> done{false};
  std::thread::id resumed_on;
  asio::co_spawn(
      worker,
      [&]() -> asio::awaitable<void> {
        HookDecision d = co_await h.dispatcher->Decide(HookEvent::kTunnelOpen,
                                                       hv1::TunnelOpenRequest());
        EXPECT_TRUE(d.allowed());
        resumed_on = std::this_thread::get_id();
        done = true;
      },
      [](std::exception_ptr p) {
        if (p) std::rethrow_exception(p);
      });
  h.RunUntil([&] { return done.load(); });
  guard.reset();
  worker.stop();
  t.join();
  EXPECT_EQ(resumed_on, worker_id);
}

TEST(HookDispatcherTest, DenyReasonIsBounded) {
  Harness h;
  h.Build({"fail_closed"});
  h.fakes[0]->decision = hv1::DENY;
  h.fakes[0]->reason = std::string(100000, 'x');
  EXPECT_LE(h.Decide().reason.size(), 512u);
}

TEST(HookDispatcherTest, NotificationsAndBatchesAreDeliveredInOrder) {
  Harness h;
  h.Build({"fail_closed"});
  hv1::TunnelTraffic t;
  t.set_tunnel_id("t1");
  t.set_bytes_received(10);
  h.dispatcher->PublishTraffic({t});
  hv1::TunnelCloseRequest close;
  close.set_tunnel_id("t1");
  h.dispatcher->Notify(HookEvent::kTunnelClose, close);
  h.dispatcher->Notify(HookEvent::kClientDisconnect, hv1::ClientDisconnectRequest());
  h.RunUntil([&] { return h.fakes[0]->calls().size() == 3; });
  EXPECT_EQ(h.fakes[0]->calls()[0].event, HookEvent::kData);
  EXPECT_EQ(h.fakes[0]->calls()[1].event, HookEvent::kTunnelClose);
  EXPECT_EQ(h.fakes[0]->calls()[2].event, HookEvent::kClientDisconnect);
  EXPECT_EQ(h.fakes[0]->batches()[0].sequence(), 1u);
}

TEST(HookDispatcherTest, ObserversSeeVisitorEventsOnlyWhenTheyAskForThem) {
  Harness h;
  h.Build({});
  auto* d = h.dispatcher.get();
  EXPECT_FALSE(d->Subscribed(HookEvent::kClientDisconnect));
  std::vector<HookEvent> lifecycle, all;
  const int quiet = d->AddObserver(
      [&](HookEvent e, const google::protobuf::Message&, const HookDecision&) {
        lifecycle.push_back(e);
      },
      /*visitor_events=*/false);
  // Cheap to watch for ever: the data plane still builds no visitor requests.
  EXPECT_TRUE(d->Subscribed(HookEvent::kClientDisconnect));
  EXPECT_FALSE(d->Subscribed(HookEvent::kVisitorConnect));
  EXPECT_FALSE(d->Subscribed(HookEvent::kVisitorDisconnect));
  EXPECT_FALSE(d->Subscribed(HookEvent::kData));

  const int full = d->AddObserver(
      [&](HookEvent e, const google::protobuf::Message&, const HookDecision&) {
        all.push_back(e);
      });
  EXPECT_TRUE(d->Subscribed(HookEvent::kVisitorDisconnect));
  d->Notify(HookEvent::kVisitorDisconnect, hv1::VisitorDisconnectRequest());
  d->Notify(HookEvent::kClientDisconnect, hv1::ClientDisconnectRequest());
  h.RunUntil([&] { return all.size() == 2; });
  EXPECT_EQ(all, (std::vector<HookEvent>{HookEvent::kVisitorDisconnect,
                                          HookEvent::kClientDisconnect}));
  EXPECT_EQ(lifecycle, std::vector<HookEvent>{HookEvent::kClientDisconnect});

  d->RemoveObserver(full);
  EXPECT_FALSE(d->Subscribed(HookEvent::kVisitorDisconnect));
  EXPECT_TRUE(d->Subscribed(HookEvent::kTunnelClose));
  d->RemoveObserver(quiet);
  EXPECT_FALSE(d->Subscribed(HookEvent::kTunnelClose));
}

TEST(HookDispatcherTest, TransientFailuresAreRetriedInOrder) {
  Harness h;
  h.Build({"fail_closed"});
  h.fakes[0]->notify_script = {grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"),
                               grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")};
  hv1::TunnelCloseRequest first;
  first.set_tunnel_id("first");
  hv1::TunnelCloseRequest second;
  second.set_tunnel_id("second");
  h.dispatcher->Notify(HookEvent::kTunnelClose, first);
  h.dispatcher->Notify(HookEvent::kTunnelClose, second);
  h.RunUntil([&] { return h.fakes[0]->calls().size() == 4; });
  // Two failed attempts of "first", then "first", then "second".
  std::vector<std::string> ids;
  for (auto& c : h.fakes[0]->calls()) {
    hv1::TunnelCloseRequest r;
    r.ParseFromString(c.request);
    ids.push_back(r.tunnel_id());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"first", "first", "first", "second"}));
  EXPECT_EQ(h.dispatcher->Hooks()[0].stats->retries.load(), 2u);
  EXPECT_EQ(h.dispatcher->Hooks()[0].stats->dropped_events.load(), 0u);
}

TEST(HookDispatcherTest, FullQueueDropsAndCountsInsteadOfBlocking) {
  Harness h;
  h.Build({"fail_closed"}, "stop_on_error", /*queue_size=*/2, /*max_pending_batches=*/1);
  h.fakes[0]->defer = true;  // the hook never answers until released
  for (int i = 0; i < 5; ++i) h.dispatcher->Notify(HookEvent::kTunnelClose, hv1::TunnelCloseRequest());
  h.io.poll();  // notifications are posted to the dispatcher's executor
  hv1::TunnelTraffic t;
  t.set_tunnel_id("t");
  for (int i = 0; i < 3; ++i) h.dispatcher->PublishTraffic({t});
  auto* stats = h.dispatcher->Hooks()[0].stats;
  EXPECT_EQ(stats->dropped_events.load(), 3u);
  EXPECT_EQ(stats->dropped_batches.load(), 2u);
  // Release everything; the kept batch carries sequence 1 and the
  // dropped ones leave a visible gap for the next.
  h.RunUntil([&] {
    h.fakes[0]->Release();
    return stats->queue_depth.load() == 0;
  });
  h.dispatcher->PublishTraffic({t});
  h.RunUntil([&] {
    h.fakes[0]->Release();
    return h.fakes[0]->batches().size() == 2;
  });
  EXPECT_EQ(h.fakes[0]->batches()[0].sequence(), 1u);
  EXPECT_EQ(h.fakes[0]->batches()[1].sequence(), 4u);
}

TEST(HookDispatcherTest, LargeTrafficIsSplitIntoBatches) {
  Harness h;
  h.Build({"fail_closed"});
  std::vector<hv1::TunnelTraffic> traffic(2500);
  for (size_t i = 0; i < traffic.size(); ++i) traffic[i].set_tunnel_id(std::to_string(i));
  h.dispatcher->PublishTraffic(traffic);
  h.RunUntil([&] { return h.fakes[0]->batches().size() == 3; });
  EXPECT_EQ(h.fakes[0]->batches()[0].tunnels_size(), 1000);
  EXPECT_EQ(h.fakes[0]->batches()[2].tunnels_size(), 500);
  EXPECT_EQ(h.fakes[0]->batches()[2].sequence(), 3u);
}

TEST(HookDispatcherTest, NormalizeRejectsBadPolicyAndEventsWithPath) {
  config::v1::ServerConfig cfg;
  auto* hc = cfg.add_hooks();
  hc->set_name("a");
  hc->set_address("127.0.0.1:1");
  hc->set_failure_policy("fail_sometimes");
  auto st = NormalizeHookConfig(&cfg);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("hooks[0].failure_policy"), std::string::npos) << st.message();
  hc->set_failure_policy("");
  hc->add_events("tunnel_opne");
  st = NormalizeHookConfig(&cfg);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("hooks[0].events[0]"), std::string::npos) << st.message();
}

TEST(HookDispatcherTest, DefaultsSubscribeAllButVisitorEvents) {
  config::v1::ServerConfig cfg;
  auto* hc = cfg.add_hooks();
  hc->set_name("a");
  hc->set_address("127.0.0.1:1");
  ASSERT_TRUE(NormalizeHookConfig(&cfg).ok());
  EXPECT_EQ(cfg.hooks(0).timeout_ms(), 500u);
  EXPECT_EQ(cfg.hooks(0).failure_policy(), "fail_closed");
  // Empty: the default events, narrowed by Describe at run time.
  EXPECT_EQ(cfg.hooks(0).events_size(), 0);
  int defaults = 0;
  for (const auto& info : hooks::kHookEvents) defaults += info.default_subscribed;
  EXPECT_EQ(defaults, 8);
  EXPECT_EQ(cfg.hook_settings().strategy(), "stop_on_error");
  EXPECT_EQ(cfg.hook_settings().flush_interval_ms(), 1000u);
}

}  // namespace
}  // namespace reitunnel::server
