#include "server/dashboard/event_log.h"

#include "common/proto_util/time.h"

namespace reitunnel::server::dashboard {

namespace dv1 = reitunnel::dashboard::v1;

void EventLog::Append(admin::v1::Event event) {
  bool visitor = event.type() == "visitor_connect" || event.type() == "visitor_disconnect";
  std::lock_guard<std::mutex> l(mu_);
  dv1::RecordedEvent e;
  e.set_seq(++last_seq_);
  *e.mutable_event() = std::move(event);
  if (visitor) {
    Push(visitors_, visitor_capacity_, std::move(e));
  } else {
    Push(lifecycle_, lifecycle_capacity_, std::move(e));
  }
}

void EventLog::Push(Ring& ring, size_t capacity, dv1::RecordedEvent e) {
  ring.events.push_back(std::move(e));
  while (ring.events.size() > capacity) {
    ring.dropped_through = ring.events.front().seq();
    ring.events.pop_front();
  }
}

dv1::EventsResponse EventLog::After(uint64_t after) const {
  std::lock_guard<std::mutex> l(mu_);
  if (after > last_seq_) after = 0;
  dv1::EventsResponse out;
  out.set_last_seq(last_seq_);
  out.set_truncated(lifecycle_.dropped_through > after || visitors_.dropped_through > after);
  if (recording_since_) *out.mutable_recording_since() = ToTimestamp(*recording_since_);
  // Both rings are ordered by seq: merge them.
  auto a = lifecycle_.events.begin(), a_end = lifecycle_.events.end();
  auto b = visitors_.events.begin(), b_end = visitors_.events.end();
  while (a != a_end && a->seq() <= after) ++a;
  while (b != b_end && b->seq() <= after) ++b;
  while (a != a_end || b != b_end) {
    bool take_a = b == b_end || (a != a_end && a->seq() < b->seq());
    *out.add_events() = take_a ? *a++ : *b++;
  }
  return out;
}

void EventLog::SetRecordingSince(std::optional<std::chrono::system_clock::time_point> since) {
  std::lock_guard<std::mutex> l(mu_);
  recording_since_ = since;
}

}  // namespace reitunnel::server::dashboard
