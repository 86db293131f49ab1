// EventRecorder against a real HookDispatcher without hooks: agent and
// tunnel events are recorded from the start; visitor events only while a
// viewer is there, and only then does the data plane pay for them.

#include "server/dashboard/event_recorder.h"

#include <chrono>
#include <memory>

#include "asio/io_context.hpp"
#include "gtest/gtest.h"
#include "server/hooks/hook_dispatcher.h"

namespace reitunnel::server::dashboard {
namespace {

using namespace std::chrono_literals;

class EventRecorderTest : public ::testing::Test {
 protected:
  void Drain() {
    io_.restart();
    io_.poll();
  }
  bool Visitors() const { return dispatcher_.Subscribed(HookEvent::kVisitorConnect); }
  bool Lifecycle() const { return dispatcher_.Subscribed(HookEvent::kTunnelOpen); }
  int Recorded() { return log_->After(0).events_size(); }

  asio::io_context io_;
  HookDispatcher dispatcher_{io_.get_executor(), config::v1::HookSettings(),
                             hook::v1::ServerInfo(), {}};
  std::shared_ptr<EventLog> log_ = std::make_shared<EventLog>();
};

TEST_F(EventRecorderTest, RecordsAgentEventsBeforeAnyViewerAndVisitorEventsOnlyWithOne) {
  auto recorder = std::make_unique<EventRecorder>(io_.get_executor(), &dispatcher_, log_, 1min);
  Drain();
  EXPECT_TRUE(Lifecycle());
  EXPECT_FALSE(Visitors());
  EXPECT_TRUE(log_->After(0).has_recording_since());

  hook::v1::ClientDisconnectRequest gone;
  gone.set_client_id("c1");
  gone.set_reason("agent closed the connection");
  dispatcher_.Notify(HookEvent::kClientDisconnect, gone);
  Drain();
  EXPECT_EQ(Recorded(), 1) << "an agent event from before the first viewer";

  const auto t0 = EventRecorder::Clock::now();
  recorder->Touch(t0);
  Drain();
  EXPECT_TRUE(Visitors());
  EXPECT_TRUE(recorder->wants_events());

  recorder->DetachIfIdle(t0 + 30s);  // still within `idle`
  Drain();
  EXPECT_TRUE(Visitors());
  recorder->DetachIfIdle(t0 + 2min);
  Drain();
  EXPECT_FALSE(Visitors());
  EXPECT_TRUE(Lifecycle()) << "agent and tunnel events are still recorded";

  dispatcher_.Notify(HookEvent::kClientDisconnect, gone);
  Drain();
  EXPECT_EQ(Recorded(), 2);

  recorder.reset();
  Drain();
  EXPECT_FALSE(Lifecycle());
}

}  // namespace
}  // namespace reitunnel::server::dashboard
