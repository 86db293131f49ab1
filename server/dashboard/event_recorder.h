#pragma once

// Feeds the EventLog from the hook dispatcher's observer API. Agent and
// tunnel events are recorded from the start, so an operator who opens the
// dashboard after an incident sees what happened. Visitor events need an
// observer that makes the data plane build a request per visitor even when
// no hook wants them (as `events watch` does), so that one replaces the
// lifecycle-only observer on the first authenticated request and is
// swapped back after `idle` without one. AddObserver and RemoveObserver run
// on the control executor, as the dispatcher requires; Touch and
// DetachIfIdle may be called from any thread.

#include <chrono>
#include <memory>
#include <mutex>

#include "asio/any_io_executor.hpp"
#include "server/dashboard/event_log.h"

namespace reitunnel::server {
class HookDispatcher;
}

namespace reitunnel::server::dashboard {

class EventRecorder {
 public:
  using Clock = std::chrono::steady_clock;
  // `hooks` may be null (then nothing is recorded); it and `control` must
  // outlive this object's posted work (the server and the control loop do).
  EventRecorder(asio::any_io_executor control, HookDispatcher* hooks, std::shared_ptr<EventLog> log,
                std::chrono::milliseconds idle = std::chrono::minutes(5));
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  void Touch(Clock::time_point now);
  void DetachIfIdle(Clock::time_point now);
  // Whether visitor events are being recorded (a viewer is there).
  bool wants_events() const;

 private:
  struct State;
  // Makes the observer match `want` (and `stopped`), on the control executor.
  void Post();

  asio::any_io_executor control_;
  HookDispatcher* hooks_;
  std::chrono::milliseconds idle_;
  std::shared_ptr<State> state_;
};

}  // namespace reitunnel::server::dashboard
