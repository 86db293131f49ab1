#include "server/dashboard/event_recorder.h"

#include "asio/post.hpp"
#include "common/log/log.h"
#include "server/admin/admin_views.h"
#include "server/hooks/hook_dispatcher.h"

namespace reitunnel::server::dashboard {

struct EventRecorder::State {
  explicit State(std::shared_ptr<EventLog> l) : log(std::move(l)) {}
  std::shared_ptr<EventLog> log;
  std::mutex mu;
  bool want = false;             // mu: visitor events too
  bool stopped = false;          // mu: nothing any more
  Clock::time_point last_touch;  // mu
  int observer = 0;              // control executor only
  bool observer_has_visitors = false;  // control executor only
};

EventRecorder::EventRecorder(asio::any_io_executor control, HookDispatcher* hooks,
                             std::shared_ptr<EventLog> log, std::chrono::milliseconds idle)
    : control_(std::move(control)),
      hooks_(hooks),
      idle_(idle),
      state_(std::make_shared<State>(std::move(log))) {
  if (hooks_) {
    state_->log->SetRecordingSince(std::chrono::system_clock::now());
    Post();
  }
}

EventRecorder::~EventRecorder() {
  if (!hooks_) return;
  {
    std::lock_guard<std::mutex> l(state_->mu);
    state_->stopped = true;
  }
  Post();
}

void EventRecorder::Touch(Clock::time_point now) {
  {
    std::lock_guard<std::mutex> l(state_->mu);
    state_->last_touch = now;
    if (state_->want || !hooks_) return;
    state_->want = true;
  }
  Post();
}

void EventRecorder::DetachIfIdle(Clock::time_point now) {
  {
    std::lock_guard<std::mutex> l(state_->mu);
    if (!state_->want || now - state_->last_touch < idle_) return;
    state_->want = false;
  }
  Post();
}

bool EventRecorder::wants_events() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->want;
}

void EventRecorder::Post() {
  // Whichever post runs last sees the final state: swaps may be queued in
  // either order without leaving a stray observer.
  asio::post(control_, [hooks = hooks_, state = state_] {
    bool want, stopped;
    {
      std::lock_guard<std::mutex> l(state->mu);
      want = state->want;
      stopped = state->stopped;
    }
    const bool keep = !stopped && state->observer != 0 && state->observer_has_visitors == want;
    if (keep) return;
    if (state->observer != 0) {
      hooks->RemoveObserver(state->observer);
      state->observer = 0;
      if (state->observer_has_visitors) {
        log::Info("dashboard_events_idle",
                  "dashboard visitor-event recording off (no viewer); agent and tunnel events "
                  "are still recorded");
      }
    }
    if (stopped) return;
    std::weak_ptr<EventLog> weak = state->log;
    state->observer = hooks->AddObserver(
        [weak](HookEvent e, const google::protobuf::Message& m, const HookDecision& d) {
          auto log = weak.lock();
          if (!log) return;
          admin::v1::Event ev;
          if (EventFromHook(e, m, d, &ev)) log->Append(std::move(ev));
        },
        /*visitor_events=*/want);
    state->observer_has_visitors = want;
    if (want) log::Info("dashboard_events_recording", "dashboard visitor-event recording on");
  });
}

}  // namespace reitunnel::server::dashboard
