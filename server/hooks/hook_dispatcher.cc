#include "server/hooks/hook_dispatcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asio/async_result.hpp"
#include "asio/experimental/as_tuple.hpp"
#include "asio/post.hpp"
#include "asio/use_awaitable.hpp"
#include "common/log/log.h"
#include "common/net/spawn.h"
#include "common/proto_util/time.h"

namespace reitunnel::server {

namespace hv1 = hook::v1;
using asio::experimental::as_tuple;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxReasonBytes = 512;

struct DecideResult {
  grpc::Status status;
  hv1::DecisionResponse response;
};

// Bridges a HookClient callback (any thread) back onto `ex` as an awaitable.
asio::awaitable<DecideResult> AsyncDecide(asio::any_io_executor ex, HookClient& client,
                                          HookEvent e,
                                          std::shared_ptr<const google::protobuf::Message> req,
                                          std::chrono::milliseconds timeout) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(DecideResult)>(
      [&client, e, req, timeout, ex](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        client.Decide(e, *req, timeout, [ex, h](grpc::Status s, hv1::DecisionResponse r) {
          asio::post(ex, [h, res = DecideResult{std::move(s), std::move(r)}]() mutable {
            std::move (*h)(std::move(res));
          });
        });
      },
      use_awaitable);
}

// Delivers one queued item (notification or batch). A plain function, like
// AsyncDecide: GCC 12 miscompiles capturing lambdas created inside a
// co_await expression of a coroutine.
asio::awaitable<grpc::Status> AsyncDeliver(asio::any_io_executor ex, HookClient* client,
                                           HookEvent e,
                                           std::shared_ptr<const google::protobuf::Message> msg,
                                           std::chrono::milliseconds timeout) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(grpc::Status)>(
      [ex, client, e, msg, timeout](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        auto done = [ex, h](grpc::Status s) {
          asio::post(ex, [h, s = std::move(s)]() mutable { std::move (*h)(std::move(s)); });
        };
        if (e == HookEvent::kData) {
          client->WriteBatch(static_cast<const hv1::DataBatch&>(*msg), std::move(done));
        } else {
          client->Notify(e, *msg, timeout, std::move(done));
        }
      },
      use_awaitable);
}

asio::awaitable<grpc::Status> AsyncFinishStream(asio::any_io_executor ex, HookClient* client) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(grpc::Status)>(
      [ex, client](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        client->FinishStream([ex, h](grpc::Status s) {
          asio::post(ex, [h, s = std::move(s)]() mutable { std::move (*h)(std::move(s)); });
        });
      },
      use_awaitable);
}

bool Transient(grpc::StatusCode c) {
  return c == grpc::StatusCode::UNAVAILABLE || c == grpc::StatusCode::DEADLINE_EXCEEDED ||
         c == grpc::StatusCode::RESOURCE_EXHAUSTED || c == grpc::StatusCode::ABORTED;
}

std::string Bounded(const std::string& s) {
  if (s.size() <= kMaxReasonBytes) return s;
  return s.substr(0, kMaxReasonBytes);
}

}  // namespace

struct HookDispatcher::HookState {
  HookState(asio::any_io_executor ex, Hook h)
      : config(std::move(h.config)), client(std::move(h.client)), wake(ex), retry(ex) {}

  config::v1::HookConfig config;
  std::unique_ptr<HookClient> client;
  bool events[kHookEventCount] = {};
  bool fail_open = false;
  std::chrono::milliseconds timeout{500};
  HookStats stats;
  std::deque<Pending> queue;
  size_t queued_batches = 0;
  uint64_t next_sequence = 1;
  Clock::time_point last_batch_time = Clock::now();
  asio::steady_timer wake;   // idle worker waits here; Enqueue cancels it
  asio::steady_timer retry;  // backoff between delivery attempts
  bool stopped = false;
  bool worker_done = false;
  // Batches written on the current data stream: before a notification that
  // must follow them, the stream is finished so the hook has read them all.
  bool stream_dirty = false;
};

HookDispatcher::HookDispatcher(asio::any_io_executor ex, config::v1::HookSettings settings,
                               hv1::ServerInfo server_info, std::vector<Hook> hooks)
    : ex_(ex), settings_(std::move(settings)), server_info_(std::move(server_info)) {
  for (auto& hook : hooks) {
    auto h = std::make_shared<HookState>(ex_, std::move(hook));
    for (const auto& name : h->config.events()) {
      auto e = ParseHookEvent(name);
      if (e.ok()) h->events[static_cast<int>(*e)] = true;
    }
    h->fail_open = h->config.failure_policy() == "fail_open";
    h->timeout = std::chrono::milliseconds(h->config.timeout_ms());
    for (int i = 0; i < kHookEventCount; ++i) subscribed_[i] |= h->events[i];
    hooks_.push_back(h);
    net::Spawn(ex_, Deliver(h), "hook_delivery");
  }
}

HookDispatcher::~HookDispatcher() {
  for (auto& h : hooks_) h->client->CancelAll();
}

std::chrono::milliseconds HookDispatcher::flush_interval() const {
  return std::chrono::milliseconds(settings_.flush_interval_ms());
}

int HookDispatcher::AddObserver(Observer o) {
  int id = ++next_observer_;
  observers_[id] = std::move(o);
  return id;
}

void HookDispatcher::RemoveObserver(int id) { observers_.erase(id); }

void HookDispatcher::Observe(HookEvent e, const google::protobuf::Message& msg,
                             const HookDecision& d) {
  if (observers_.empty() || e == HookEvent::kData) return;
  // Copy: an observer may remove itself while being called.
  auto observers = observers_;
  for (auto& [_, o] : observers) o(e, msg, d);
}

void HookDispatcher::FillContext(hv1::EventContext* ctx) const {
  *ctx->mutable_server() = server_info_;
  *ctx->mutable_time() = NowTimestamp();
}

asio::awaitable<HookDecision> HookDispatcher::AskOne(
    HookState& h, HookEvent e, std::shared_ptr<const google::protobuf::Message> request) {
  auto start = Clock::now();
  h.stats.calls++;
  DecideResult r = co_await AsyncDecide(ex_, *h.client, e, request, h.timeout);
  h.stats.ObserveLatency(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  std::string failure;
  if (r.status.ok()) {
    if (r.response.decision() == hv1::ALLOW) {
      h.stats.allowed++;
      h.stats.Outcome(static_cast<int>(e), HookStats::kAllow);
      co_return HookDecision{true, ""};
    }
    if (r.response.decision() == hv1::DENY) {
      h.stats.denied++;
      h.stats.Outcome(static_cast<int>(e), HookStats::kDeny);
      std::string reason = r.response.reason().empty()
                               ? absl::StrCat("denied by hook ", h.config.name())
                               : Bounded(r.response.reason());
      co_return HookDecision{false, reason};
    }
    failure = "answered without a decision";
  } else if (r.status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    // A hook only implements the RPCs it cares about.
    h.stats.allowed++;
    h.stats.Outcome(static_cast<int>(e), HookStats::kAllow);
    co_return HookDecision{true, ""};
  } else {
    if (r.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      h.stats.timeouts++;
      failure = absl::StrCat("timed out after ", h.timeout.count(), " ms");
    } else {
      failure = r.status.error_message().empty()
                    ? absl::StrCat("failed with gRPC code ", r.status.error_code())
                    : Bounded(r.status.error_message());
    }
  }
  h.stats.errors++;
  h.stats.Outcome(static_cast<int>(e), HookStats::kError);
  log::Warn("hook_call_failed", "hook call failed",
            {{"hook", h.config.name()},
             {"hook_event", std::string(HookEventName(e))},
             {"error", failure},
             {"policy", h.fail_open ? "fail_open" : "fail_closed"}});
  hv1::ErrorEvent err;
  err.set_component("hook");
  err.set_message(absl::StrCat("hook ", h.config.name(), " ", std::string(HookEventName(e)), ": ",
                               failure));
  Notify(HookEvent::kError, std::move(err));
  if (h.fail_open) {
    h.stats.fail_open_allowances++;
    co_return HookDecision{true, ""};
  }
  co_return HookDecision{false, absl::StrCat("policy hook ", h.config.name(), " ", failure)};
}

asio::awaitable<HookDecision> HookDispatcher::DecideMessage(
    HookEvent e, std::shared_ptr<const google::protobuf::Message> request) {
  std::vector<std::shared_ptr<HookState>> asked;
  for (auto& h : hooks_) {
    if (h->events[static_cast<int>(e)]) asked.push_back(h);
  }
  std::vector<std::string> reasons;
  if (settings_.strategy() == "collect_and_continue") {
    // Every hook is asked, concurrently; the slowest bounds the latency.
    auto results = std::make_shared<std::vector<HookDecision>>(asked.size());
    auto remaining = std::make_shared<size_t>(asked.size());
    auto done = std::make_shared<asio::steady_timer>(ex_, Clock::time_point::max());
    for (size_t i = 0; i < asked.size(); ++i) {
      // Parameters, not lambda captures: a coroutine's captures die with
      // the temporary closure, its parameters live in the frame.
      auto ask = [](HookDispatcher* self, std::shared_ptr<HookState> h, HookEvent e,
                    std::shared_ptr<const google::protobuf::Message> request,
                    std::shared_ptr<std::vector<HookDecision>> results,
                    std::shared_ptr<size_t> remaining, std::shared_ptr<asio::steady_timer> done,
                    size_t i) -> asio::awaitable<void> {
        (*results)[i] = co_await self->AskOne(*h, e, request);
        if (--*remaining == 0) done->cancel();
      };
      net::Spawn(ex_, ask(this, asked[i], e, request, results, remaining, done, i),
                 "hook_decide");
    }
    if (*remaining > 0) co_await done->async_wait(as_tuple(use_awaitable));
    for (auto& d : *results) {
      if (!d.allowed) reasons.push_back(d.reason);
    }
  } else {
    for (auto& h : asked) {
      HookDecision d = co_await AskOne(*h, e, request);
      if (!d.allowed) {
        reasons.push_back(d.reason);
        break;
      }
    }
  }
  if (reasons.empty()) co_return HookDecision{true, ""};
  co_return HookDecision{false, absl::StrJoin(reasons, "; ")};
}

void HookDispatcher::Enqueue(HookEvent e, std::shared_ptr<const google::protobuf::Message> msg) {
  for (auto& h : hooks_) {
    if (h->events[static_cast<int>(e)]) EnqueueOne(*h, Pending{e, msg});
  }
}

void HookDispatcher::EnqueueOne(HookState& h, Pending p) {
  if (h.stopped) return;
  if (p.event == HookEvent::kData) {
    if (h.queued_batches >= settings_.max_pending_batches()) {
      h.stats.dropped_batches++;
      return;
    }
    h.queued_batches++;
  } else if (h.queue.size() - h.queued_batches >= h.config.queue_size()) {
    h.stats.dropped_events++;
    return;
  }
  h.queue.push_back(std::move(p));
  h.stats.queue_depth = h.queue.size();
  h.wake.cancel();
}

void HookDispatcher::PublishTraffic(std::vector<hv1::TunnelTraffic> traffic) {
  if (!Subscribed(HookEvent::kData) || traffic.empty()) return;
  const size_t per_batch = std::max<size_t>(1, settings_.max_batch_tunnels());
  auto now = std::chrono::system_clock::now();
  auto now_ts = ToTimestamp(now);
  for (auto& h : hooks_) {
    if (!h->events[static_cast<int>(HookEvent::kData)]) continue;
    auto start_ts = ToTimestamp(now - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                          Clock::now() - h->last_batch_time));
    h->last_batch_time = Clock::now();
    for (size_t off = 0; off < traffic.size(); off += per_batch) {
      auto batch = std::make_shared<hv1::DataBatch>();
      FillContext(batch->mutable_context());
      // The sequence is taken even if the batch is dropped below, so the
      // hook sees the gap.
      batch->set_sequence(h->next_sequence++);
      *batch->mutable_window_start() = start_ts;
      *batch->mutable_window_end() = now_ts;
      for (size_t i = off; i < std::min(traffic.size(), off + per_batch); ++i) {
        *batch->add_tunnels() = traffic[i];
      }
      EnqueueOne(*h, Pending{HookEvent::kData, batch});
    }
  }
}

asio::awaitable<void> HookDispatcher::Deliver(std::shared_ptr<HookState> h) {
  for (;;) {
    if (h->queue.empty()) {
      if (h->stopped) break;
      h->wake.expires_at(Clock::time_point::max());
      co_await h->wake.async_wait(as_tuple(use_awaitable));
      continue;
    }
    HookEvent e = h->queue.front().event;
    std::shared_ptr<const google::protobuf::Message> msg = h->queue.front().msg;
    if (h->stream_dirty && (e == HookEvent::kTunnelClose || e == HookEvent::kClientDisconnect ||
                            e == HookEvent::kServerStop)) {
      // A written batch is only handed to the transport; the hook reads the
      // stream on its own schedule. Its Ack, sent after it consumed every
      // batch, is what makes "last batch before OnTunnelClose" hold at the
      // hook. The next batch opens a fresh stream.
      h->stream_dirty = false;
      co_await AsyncFinishStream(ex_, h->client.get());
    }
    grpc::Status s = co_await AsyncDeliver(ex_, h->client.get(), e, msg, h->timeout);
    if (e == HookEvent::kData && s.ok()) h->stream_dirty = true;
    Pending& front = h->queue.front();
    bool delivered = s.ok() || s.error_code() == grpc::StatusCode::UNIMPLEMENTED;
    if (!delivered && Transient(s.error_code()) && !h->stopped) {
      h->stats.retries++;
      // 100 ms doubling to 5 s: a restarted hook gets its backlog promptly,
      // a dead one is not hammered.
      int attempts = ++front.attempts;
      auto backoff = std::chrono::milliseconds(std::min(5000, 100 << std::min(attempts - 1, 6)));
      h->retry.expires_after(backoff);
      co_await h->retry.async_wait(as_tuple(use_awaitable));
      continue;
    }
    if (delivered) {
      if (front.event == HookEvent::kData) {
        h->stats.batches_sent++;
      } else {
        h->stats.notifications_sent++;
      }
    } else {
      if (front.event == HookEvent::kData) {
        h->stats.dropped_batches++;
      } else {
        h->stats.dropped_events++;
      }
      log::Debug("hook_delivery_dropped", "hook notification dropped",
                 {{"hook", h->config.name()},
                  {"hook_event", std::string(HookEventName(front.event))},
                  {"error", s.error_message()}});
    }
    if (front.event == HookEvent::kData) h->queued_batches--;
    h->queue.pop_front();
    h->stats.queue_depth = h->queue.size();
  }
  h->worker_done = true;
}

asio::awaitable<void> HookDispatcher::Shutdown(std::chrono::milliseconds deadline) {
  shutting_down_ = true;
  auto until = Clock::now() + deadline;
  asio::steady_timer tick(ex_);
  auto busy = [&] {
    for (auto& h : hooks_) {
      if (!h->queue.empty()) return true;
    }
    return false;
  };
  while (busy() && Clock::now() < until) {
    tick.expires_after(std::chrono::milliseconds(10));
    co_await tick.async_wait(as_tuple(use_awaitable));
  }
  for (auto& h : hooks_) {
    if (!h->events[static_cast<int>(HookEvent::kData)]) continue;
    auto remaining = std::max(std::chrono::milliseconds(100),
                              std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()));
    asio::steady_timer guard(ex_, remaining);
    guard.async_wait([h](const asio::error_code& ec) {
      if (!ec) h->client->CancelAll();
    });
    co_await AsyncFinishStream(ex_, h->client.get());
  }
  for (auto& h : hooks_) {
    h->stopped = true;
    h->client->CancelAll();
    h->retry.cancel();
    h->wake.cancel();
  }
  // Workers finish once their in-flight call returns (cancelled calls
  // return promptly).
  auto hard = Clock::now() + std::chrono::seconds(2);
  auto working = [&] {
    for (auto& h : hooks_) {
      if (!h->worker_done) return true;
    }
    return false;
  };
  while (working() && Clock::now() < hard) {
    for (auto& h : hooks_) {
      h->queue.erase(h->queue.begin() + (h->queue.empty() ? 0 : 1), h->queue.end());
    }
    tick.expires_after(std::chrono::milliseconds(10));
    co_await tick.async_wait(as_tuple(use_awaitable));
  }
}

std::vector<HookDispatcher::HookView> HookDispatcher::Hooks() const {
  std::vector<HookView> out;
  for (auto& h : hooks_) out.push_back({&h->config, &h->stats, h->client->State()});
  return out;
}

}  // namespace reitunnel::server
