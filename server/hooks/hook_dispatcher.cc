#include "server/hooks/hook_dispatcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asio/async_result.hpp"
#include "asio/experimental/as_tuple.hpp"
#include "asio/post.hpp"
#include "asio/this_coro.hpp"
#include "asio/use_awaitable.hpp"
#include "common/log/log.h"
#include "common/net/spawn.h"
#include "common/proto_util/time.h"
#include "server/session/tunnel_core.h"

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
// A plain function: GCC 12 miscompiles capturing lambdas created inside a
// co_await expression of a coroutine.
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
  return s.size() <= kMaxReasonBytes ? s : s.substr(0, kMaxReasonBytes);
}

TunnelTotals Minus(const TunnelTotals& a, const TunnelTotals& b) {
  TunnelTotals d;
  d.bytes_in = a.bytes_in - b.bytes_in;
  d.bytes_out = a.bytes_out - b.bytes_out;
  d.events_in = a.events_in - b.events_in;
  d.events_out = a.events_out - b.events_out;
  d.visitors_opened = a.visitors_opened - b.visitors_opened;
  d.visitors_closed = a.visitors_closed - b.visitors_closed;
  return d;
}

bool ToTraffic(const TunnelInfo& info, const TunnelTotals& d, hv1::TunnelTraffic* out) {
  if (d.bytes_in == 0 && d.bytes_out == 0 && d.visitors_opened == 0 && d.visitors_closed == 0) {
    return false;
  }
  out->set_client_id(info.client_id);
  out->set_tunnel_id(info.tunnel_id);
  out->set_tunnel_name(info.name);
  out->set_bytes_received(d.bytes_in);
  out->set_bytes_sent(d.bytes_out);
  out->set_received_events(d.events_in);
  out->set_sent_events(d.events_out);
  out->set_visitors_opened(d.visitors_opened);
  out->set_visitors_closed(d.visitors_closed);
  return true;
}

}  // namespace

struct HookDispatcher::OpenTunnel {
  std::shared_ptr<TunnelCore> core;
  TunnelTotals reported;
};

struct HookDispatcher::HookState {
  HookState(asio::any_io_executor ex, Hook h)
      : config(std::move(h.config)), client(std::move(h.client)), wake(ex), retry(ex) {}

  // Immutable after construction (reloads change only the atomics below).
  config::v1::HookConfig config;
  std::unique_ptr<HookClient> client;
  bool configured[kHookEventCount] = {};
  // The config listed events explicitly: a listed blocking event the hook
  // does not implement is an error, not something to skip.
  bool explicit_events = false;
  // Read by every worker's calls; SIGHUP stores new values.
  std::atomic<bool> fail_open{false};
  std::atomic<int64_t> timeout_ms{500};
  std::chrono::milliseconds timeout() const {
    return std::chrono::milliseconds(timeout_ms.load(std::memory_order_relaxed));
  }
  // `config` with the reloaded values, for operators.
  mutable std::mutex view_mu;
  std::shared_ptr<const config::v1::HookConfig> view;  // guarded by view_mu

  // From Describe; any thread reads.
  std::atomic<bool> described{false};
  std::atomic<bool> implemented[kHookEventCount] = {};
  std::atomic<bool> warned_missing[kHookEventCount] = {};
  HookStats stats;

  // Whether `e` goes to this hook (blocking: is asked, or fails by policy).
  bool Wants(HookEvent e) const {
    int i = static_cast<int>(e);
    if (!configured[i]) return false;
    if (!described.load(std::memory_order_relaxed)) return true;
    return implemented[i].load(std::memory_order_relaxed) || (explicit_events && IsBlocking(e));
  }

  // Control executor only.
  std::deque<Pending> queue;
  size_t queued_batches = 0;
  uint64_t next_sequence = 1;
  Clock::time_point last_batch_time = Clock::now();
  asio::steady_timer wake;   // idle worker waits here; Enqueue cancels it
  asio::steady_timer retry;  // backoff between delivery attempts
  bool stopped = false;
  bool worker_done = false;
  bool stream_dirty = false;
  bool describing = false;
  std::string last_state;
};

HookDispatcher::HookDispatcher(asio::any_io_executor ex, config::v1::HookSettings settings,
                               hv1::ServerInfo server_info, std::vector<Hook> hooks)
    : ex_(ex),
      settings_(std::move(settings)),
      server_info_(std::move(server_info)),
      flush_timer_(ex),
      monitor_timer_(ex),
      idle_(ex) {
  collect_ = settings_.strategy() == "collect_and_continue";
  for (auto& hook : hooks) {
    auto h = std::make_shared<HookState>(ex_, std::move(hook));
    h->explicit_events = h->config.events_size() > 0;
    if (h->explicit_events) {
      for (const auto& name : h->config.events()) {
        if (auto e = hooks::FindHookEvent(name)) h->configured[static_cast<int>(*e)] = true;
      }
    } else {
      for (const auto& info : hooks::kHookEvents) {
        h->configured[static_cast<int>(info.event)] = info.default_subscribed;
      }
    }
    h->fail_open = h->config.failure_policy() == "fail_open";
    h->timeout_ms = h->config.timeout_ms();
    h->view = std::make_shared<const config::v1::HookConfig>(h->config);
    hooks_.push_back(h);
    net::Spawn(ex_, Deliver(h), "hook_delivery");
  }
  RecomputeSubscribed();
}

HookDispatcher::~HookDispatcher() {
  for (auto& h : hooks_) h->client->CancelAll();
}

std::chrono::milliseconds HookDispatcher::flush_interval() const {
  return std::chrono::milliseconds(settings_.flush_interval_ms());
}

hv1::ServerInfo HookDispatcher::server_info() const {
  std::lock_guard<std::mutex> l(info_mu_);
  return server_info_;
}

void HookDispatcher::set_listen_addr(const std::string& addr) {
  std::lock_guard<std::mutex> l(info_mu_);
  server_info_.set_listen_addr(addr);
}

void HookDispatcher::FillContext(hv1::EventContext* ctx) const {
  {
    std::lock_guard<std::mutex> l(info_mu_);
    *ctx->mutable_server() = server_info_;
  }
  *ctx->mutable_time() = NowTimestamp();
}

void HookDispatcher::RecomputeSubscribed() {
  for (int i = 0; i < kHookEventCount; ++i) {
    bool any = false;
    for (auto& h : hooks_) any |= h->Wants(static_cast<HookEvent>(i));
    subscribed_[i].store(any, std::memory_order_relaxed);
  }
}

int HookDispatcher::AddObserver(Observer o, bool visitor_events) {
  int id = ++next_observer_;
  observers_[id] = ObserverEntry{std::move(o), visitor_events};
  CountObservers();
  return id;
}

void HookDispatcher::RemoveObserver(int id) {
  observers_.erase(id);
  CountObservers();
}

void HookDispatcher::CountObservers() {
  int visitor = 0;
  for (const auto& [_, o] : observers_) visitor += o.visitor_events ? 1 : 0;
  observers_count_.store(static_cast<int>(observers_.size()));
  visitor_observers_count_.store(visitor);
}

void HookDispatcher::Observe(HookEvent e, std::shared_ptr<const google::protobuf::Message> msg,
                             const HookDecision& d) {
  if (e == HookEvent::kData) return;
  const bool visitor_event = !::reitunnel::hooks::Info(e).default_subscribed;
  if ((visitor_event ? visitor_observers_count_ : observers_count_)
          .load(std::memory_order_relaxed) == 0) {
    return;
  }
  asio::post(ex_, [this, e, msg, d, visitor_event] {
    // Copy: an observer may remove itself while being called.
    auto observers = observers_;
    for (auto& [_, o] : observers) {
      if (visitor_event && !o.visitor_events) continue;
      o.fn(e, *msg, d);
    }
  });
}

HookDecision HookDispatcher::Failed(HookState& h, HookEvent e, const std::string& why) {
  h.stats.errors++;
  h.stats.Outcome(static_cast<int>(e), HookStats::kError);
  log::Warn("hook_call_failed", "hook call failed",
            {{"hook", h.config.name()},
             {"hook_event", std::string(HookEventName(e))},
             {"error", why},
             {"policy", h.fail_open ? "fail_open" : "fail_closed"}});
  hv1::ErrorEvent err;
  err.set_component("hook");
  err.set_message(
      absl::StrCat("hook ", h.config.name(), " ", std::string(HookEventName(e)), ": ", why));
  Notify(HookEvent::kError, std::move(err));
  if (h.fail_open) {
    h.stats.fail_open_allowances++;
    return HookDecision::Allow();
  }
  // Sent to agents: says what happened without the transport's details
  // (addresses, TLS errors), which stay in the server's log.
  return HookDecision{HookDecision::Kind::kUnavailable,
                      absl::StrCat("policy hook \"", h.config.name(),
                                   "\" could not decide; try again later")};
}

asio::awaitable<HookDecision> HookDispatcher::AskOne(
    std::shared_ptr<HookState> h, HookEvent e,
    std::shared_ptr<const google::protobuf::Message> request) {
  const int i = static_cast<int>(e);
  if (h->described.load() && !h->implemented[i].load()) {
    if (!h->warned_missing[i].exchange(true)) {
      log::Error("hook_event_not_implemented",
                 "a hook is subscribed to a blocking event it does not implement; its failure "
                 "policy decides every such call",
                 {{"hook", h->config.name()}, {"hook_event", std::string(HookEventName(e))}});
    }
    h->stats.calls++;
    co_return Failed(*h, e, "does not implement this event");
  }
  auto ex = co_await asio::this_coro::executor;
  auto start = Clock::now();
  h->stats.calls++;
  const std::chrono::milliseconds timeout = h->timeout();
  DecideResult r = co_await AsyncDecide(ex, *h->client, e, request, timeout);
  h->stats.ObserveLatency(
      std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  if (r.status.ok()) {
    if (r.response.decision() == hv1::ALLOW) {
      h->stats.allowed++;
      h->stats.Outcome(i, HookStats::kAllow);
      co_return HookDecision::Allow();
    }
    if (r.response.decision() == hv1::DENY) {
      h->stats.denied++;
      h->stats.Outcome(i, HookStats::kDeny);
      std::string reason = r.response.reason().empty()
                               ? absl::StrCat("denied by hook ", h->config.name())
                               : Bounded(r.response.reason());
      co_return HookDecision{HookDecision::Kind::kDeny, reason};
    }
    co_return Failed(*h, e, "answered without a decision");
  }
  if (r.status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    // Never an allow: a hook that lacks the RPC (or a server that is not a
    // hook at all) cannot approve anything.
    if (!h->warned_missing[i].exchange(true)) {
      log::Error("hook_event_not_implemented",
                 "a hook answered UNIMPLEMENTED to a blocking event it is subscribed to; its "
                 "failure policy decides every such call",
                 {{"hook", h->config.name()}, {"hook_event", std::string(HookEventName(e))}});
    }
    co_return Failed(*h, e, "does not implement this event (UNIMPLEMENTED)");
  }
  if (r.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    h->stats.timeouts++;
    co_return Failed(*h, e, absl::StrCat("timed out after ", timeout.count(), " ms"));
  }
  co_return Failed(*h, e,
                   r.status.error_message().empty()
                       ? absl::StrCat("failed with gRPC code ", r.status.error_code())
                       : Bounded(r.status.error_message()));
}

asio::awaitable<HookDecision> HookDispatcher::DecideMessage(
    HookEvent e, std::shared_ptr<const google::protobuf::Message> request) {
  std::vector<std::shared_ptr<HookState>> asked;
  for (auto& h : hooks_) {
    if (h->Wants(e)) asked.push_back(h);
  }
  std::vector<HookDecision> results;
  if (collect_.load(std::memory_order_relaxed) && asked.size() > 1) {
    // Every hook is asked, concurrently; the slowest bounds the latency.
    auto ex = co_await asio::this_coro::executor;
    auto out = std::make_shared<std::vector<HookDecision>>(asked.size());
    auto remaining = std::make_shared<size_t>(asked.size());
    auto done = std::make_shared<asio::steady_timer>(ex, Clock::time_point::max());
    for (size_t i = 0; i < asked.size(); ++i) {
      // Parameters, not lambda captures: a coroutine's captures die with
      // the temporary closure, its parameters live in the frame.
      auto ask = [](HookDispatcher* self, std::shared_ptr<HookState> h, HookEvent e,
                    std::shared_ptr<const google::protobuf::Message> request,
                    std::shared_ptr<std::vector<HookDecision>> out,
                    std::shared_ptr<size_t> remaining, std::shared_ptr<asio::steady_timer> done,
                    size_t i) -> asio::awaitable<void> {
        (*out)[i] = co_await self->AskOne(h, e, request);
        if (--*remaining == 0) done->cancel();
      };
      net::Spawn(ex, ask(this, asked[i], e, request, out, remaining, done, i), "hook_decide");
    }
    if (*remaining > 0) co_await done->async_wait(as_tuple(use_awaitable));
    results = std::move(*out);
  } else {
    for (auto& h : asked) {
      HookDecision d = co_await AskOne(h, e, request);
      bool stop = !d.allowed();
      results.push_back(std::move(d));
      if (stop) break;
    }
  }
  // A deny is final whatever an undecided hook would have said.
  std::vector<std::string> denials;
  const HookDecision* unavailable = nullptr;
  for (const auto& d : results) {
    if (d.kind == HookDecision::Kind::kDeny) denials.push_back(d.reason);
    if (d.kind == HookDecision::Kind::kUnavailable && !unavailable) unavailable = &d;
  }
  if (!denials.empty()) co_return HookDecision{HookDecision::Kind::kDeny, absl::StrJoin(denials, "; ")};
  if (unavailable) co_return *unavailable;
  co_return HookDecision::Allow();
}

void HookDispatcher::Enqueue(HookEvent e, std::shared_ptr<const google::protobuf::Message> msg) {
  for (auto& h : hooks_) {
    if (h->Wants(e)) EnqueueOne(*h, Pending{e, msg});
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
    if (!h->Wants(HookEvent::kData)) continue;
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

void HookDispatcher::TunnelOpened(std::shared_ptr<TunnelCore> tunnel) {
  asio::post(ex_, [this, tunnel] {
    open_tunnels_[tunnel->info().tunnel_id] = OpenTunnel{tunnel, {}};
  });
}

void HookDispatcher::TunnelsClosed(std::vector<std::shared_ptr<TunnelCore>> tunnels,
                                   std::vector<hv1::TunnelCloseRequest> closes) {
  for (auto& c : closes) FillContext(c.mutable_context());
  asio::post(ex_, [this, tunnels = std::move(tunnels), closes = std::move(closes)]() mutable {
    std::vector<hv1::TunnelTraffic> last;
    for (auto& t : tunnels) {
      TunnelTotals reported;
      auto it = open_tunnels_.find(t->info().tunnel_id);
      if (it != open_tunnels_.end()) {
        reported = it->second.reported;
        open_tunnels_.erase(it);
      }
      hv1::TunnelTraffic traffic;
      if (ToTraffic(t->info(), Minus(t->Totals(), reported), &traffic)) {
        last.push_back(std::move(traffic));
      }
    }
    PublishTraffic(std::move(last));
    if (!Subscribed(HookEvent::kTunnelClose)) return;
    for (auto& c : closes) {
      auto msg = std::make_shared<const hv1::TunnelCloseRequest>(std::move(c));
      Observe(HookEvent::kTunnelClose, msg, HookDecision{});
      Enqueue(HookEvent::kTunnelClose, msg);
    }
  });
}

void HookDispatcher::FlushTraffic() {
  std::vector<hv1::TunnelTraffic> traffic;
  for (auto& [_, t] : open_tunnels_) {
    TunnelTotals now = t.core->Totals();
    hv1::TunnelTraffic tt;
    if (ToTraffic(t.core->info(), Minus(now, t.reported), &tt)) {
      traffic.push_back(std::move(tt));
      t.reported = now;
    }
  }
  PublishTraffic(std::move(traffic));
}

asio::awaitable<void> HookDispatcher::FlushLoop() {
  // Counters live in each relay's worker slot and are only read here: the
  // hot path pays nothing but its own increments.
  for (;;) {
    flush_timer_.expires_after(flush_interval());
    auto [ec] = co_await flush_timer_.async_wait(as_tuple(use_awaitable));
    if (ec || shutting_down_) co_return;
    if (Subscribed(HookEvent::kData)) FlushTraffic();
  }
}

void HookDispatcher::RequestDescribe(std::shared_ptr<HookState> h) {
  if (h->describing || h->stopped) return;
  h->describing = true;
  hv1::DescribeRequest req;
  FillContext(req.mutable_context());
  auto timeout = std::chrono::milliseconds(std::max<uint32_t>(settings_.startup_wait_ms(), 1000));
  h->client->Describe(req, timeout,
                      [this, h](grpc::Status s, hv1::DescribeResponse r) {
                        asio::post(ex_, [this, h, s = std::move(s), r = std::move(r)] {
                          h->describing = false;
                          ApplyDescribe(*h, s, r);
                          idle_.cancel();
                        });
                      });
}

void HookDispatcher::ApplyDescribe(HookState& h, const grpc::Status& s,
                                   const hv1::DescribeResponse& r) {
  if (s.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    if (!h.described.load()) {
      log::Warn("hook_without_describe",
                "hook does not implement Describe; every RPC is treated as implemented, and a "
                "blocking RPC it answers UNIMPLEMENTED counts as a failure",
                {{"hook", h.config.name()}});
    }
    for (auto& i : h.implemented) i.store(true);
    h.described.store(true);
    RecomputeSubscribed();
    return;
  }
  if (!s.ok()) {
    log::Debug("hook_describe_failed", "hook did not answer Describe",
               {{"hook", h.config.name()}, {"error", s.error_message()}});
    return;
  }
  bool seen[kHookEventCount] = {};
  std::vector<std::string> names;
  for (const auto& name : r.events()) {
    if (auto e = hooks::FindHookEvent(name)) {
      seen[static_cast<int>(*e)] = true;
      names.push_back(name);
    }
  }
  for (int i = 0; i < kHookEventCount; ++i) h.implemented[i].store(seen[i]);
  bool first = !h.described.exchange(true);
  if (first) {
    log::Info("hook_described", "hook described the events it implements",
              {{"hook", h.config.name()},
               {"events", absl::StrJoin(names, ",")},
               {"sdk", r.sdk()}});
  }
  RecomputeSubscribed();
}

asio::awaitable<absl::Status> HookDispatcher::WaitUntilReady(std::chrono::milliseconds max_wait,
                                                            std::vector<std::string>* unreachable) {
  auto deadline = Clock::now() + max_wait;
  for (;;) {
    bool all = true;
    for (auto& h : hooks_) all &= h->described.load();
    if (all || Clock::now() >= deadline) break;
    // Describe waits for the hook's channel to become ready (bounded); one
    // that failed for another reason is asked again.
    for (auto& h : hooks_) {
      if (!h->described.load() && !h->describing) RequestDescribe(h);
    }
    idle_.expires_at(std::min(deadline, Clock::now() + std::chrono::milliseconds(250)));
    co_await idle_.async_wait(as_tuple(use_awaitable));
  }
  std::vector<std::string> problems;
  for (auto& h : hooks_) {
    if (!h->described.load()) {
      if (unreachable) unreachable->push_back(h->config.name());
      continue;
    }
    if (!h->explicit_events) continue;
    for (const auto& info : hooks::kHookEvents) {
      int i = static_cast<int>(info.event);
      if (info.blocking && h->configured[i] && !h->implemented[i].load()) {
        problems.push_back(absl::StrCat("hook ", h->config.name(), " is subscribed to ",
                                        std::string(info.name),
                                        " but does not implement it (Describe)"));
      }
    }
  }
  if (!problems.empty()) co_return absl::FailedPreconditionError(absl::StrJoin(problems, "; "));
  co_return absl::OkStatus();
}

bool HookDispatcher::FailsClosed(const std::string& hook, HookEvent e) const {
  for (auto& h : hooks_) {
    if (h->config.name() == hook) return h->configured[static_cast<int>(e)] && !h->fail_open;
  }
  return false;
}

void HookDispatcher::Start() {
  if (started_) return;
  started_ = true;
  net::Spawn(ex_, FlushLoop(), "hook_flush");
  if (!hooks_.empty()) net::Spawn(ex_, MonitorLoop(), "hook_monitor");
}

asio::awaitable<void> HookDispatcher::MonitorLoop() {
  // Describe again after every reconnect: a hook rolled out with other
  // events must not keep its old subscription.
  for (;;) {
    for (auto& h : hooks_) {
      std::string state = h->client->State();
      bool reconnected = state == "ready" && h->last_state != "ready" && !h->last_state.empty();
      if (!h->described.load() || reconnected) RequestDescribe(h);
      h->last_state = state;
    }
    monitor_timer_.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await monitor_timer_.async_wait(as_tuple(use_awaitable));
    if (ec || shutting_down_) co_return;
  }
}

void HookDispatcher::NotifyIdleIfDrained() { idle_.cancel(); }

asio::awaitable<void> HookDispatcher::Deliver(std::shared_ptr<HookState> h) {
  for (;;) {
    if (h->queue.empty()) {
      NotifyIdleIfDrained();
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
    grpc::Status s = co_await AsyncDeliver(ex_, h->client.get(), e, msg, h->timeout());
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
  NotifyIdleIfDrained();
}

asio::awaitable<void> HookDispatcher::Shutdown(std::chrono::milliseconds deadline) {
  shutting_down_ = true;
  flush_timer_.cancel();
  monitor_timer_.cancel();
  auto until = Clock::now() + deadline;
  auto busy = [&] {
    for (auto& h : hooks_) {
      if (!h->queue.empty()) return true;
    }
    return false;
  };
  while (busy() && Clock::now() < until) {
    idle_.expires_at(until);
    co_await idle_.async_wait(as_tuple(use_awaitable));
  }
  for (auto& h : hooks_) {
    if (!h->Wants(HookEvent::kData)) continue;
    auto remaining =
        std::max(std::chrono::milliseconds(100),
                 std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()));
    asio::steady_timer guard(ex_, remaining);
    guard.async_wait([h](const asio::error_code& ec) {
      if (!ec) h->client->CancelAll();
    });
    co_await AsyncFinishStream(ex_, h->client.get());
  }
  for (auto& h : hooks_) {
    h->stopped = true;
    // Undelivered items are dropped now (counted), except the one in flight.
    if (h->queue.size() > 1) {
      h->stats.dropped_events += h->queue.size() - 1;
      h->queue.erase(h->queue.begin() + 1, h->queue.end());
    }
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
    idle_.expires_at(hard);
    co_await idle_.async_wait(as_tuple(use_awaitable));
  }
}

std::vector<HookDispatcher::HookView> HookDispatcher::Hooks() const {
  std::vector<HookView> out;
  for (auto& h : hooks_) {
    std::shared_ptr<const config::v1::HookConfig> view;
    {
      std::lock_guard<std::mutex> l(h->view_mu);
      view = h->view;
    }
    HookView v{std::move(view), &h->stats, h->client->State(), {}, {}, h->described.load()};
    for (const auto& info : hooks::kHookEvents) {
      if (h->Wants(info.event)) v.events.emplace_back(info.name);
      if (h->implemented[static_cast<int>(info.event)].load()) v.implemented.emplace_back(info.name);
    }
    out.push_back(std::move(v));
  }
  return out;
}

config::v1::HookSettings HookDispatcher::settings() const {
  std::lock_guard<std::mutex> l(settings_mu_);
  return settings_;
}

void HookDispatcher::UpdateSettings(const config::v1::ServerConfig& next,
                                    std::vector<std::string>* applied,
                                    std::vector<std::string>* needs_restart) {
  // Only when the set of hooks is the same, in the same order, talking to
  // the same places the same way: anything else means new clients, queues
  // and subscriptions, which the data plane cannot swap under its calls.
  bool same = static_cast<int>(hooks_.size()) == next.hooks_size();
  for (int i = 0; same && i < next.hooks_size(); ++i) {
    config::v1::HookConfig a = hooks_[static_cast<size_t>(i)]->config;
    config::v1::HookConfig b = next.hooks(i);
    for (auto* c : {&a, &b}) {
      c->clear_timeout_ms();
      c->clear_failure_policy();
    }
    same = a.SerializeAsString() == b.SerializeAsString();
  }
  if (!same) {
    needs_restart->push_back("hooks (added, removed, reordered, or address/TLS/events/queue changed)");
    return;
  }
  for (int i = 0; i < next.hooks_size(); ++i) {
    auto& h = *hooks_[static_cast<size_t>(i)];
    const auto& nc = next.hooks(i);
    const bool fail_open = nc.failure_policy() == "fail_open";
    const bool changed = h.timeout_ms.load() != static_cast<int64_t>(nc.timeout_ms()) ||
                         h.fail_open.load() != fail_open;
    if (!changed) continue;
    h.timeout_ms = nc.timeout_ms();
    h.fail_open = fail_open;
    auto view = std::make_shared<config::v1::HookConfig>(h.config);
    view->set_timeout_ms(nc.timeout_ms());
    view->set_failure_policy(nc.failure_policy());
    {
      std::lock_guard<std::mutex> l(h.view_mu);
      h.view = std::move(view);
    }
    applied->push_back(absl::StrCat("hooks[", h.config.name(), "]: timeout_ms ", nc.timeout_ms(),
                                    ", ", nc.failure_policy()));
  }
  config::v1::HookSettings ns = next.hook_settings();
  std::lock_guard<std::mutex> l(settings_mu_);
  if (ns.strategy() != settings_.strategy()) {
    settings_.set_strategy(ns.strategy());
    collect_ = ns.strategy() == "collect_and_continue";
    applied->push_back(absl::StrCat("hook_settings.strategy: ", ns.strategy()));
  }
  ns.set_strategy(settings_.strategy());
  // startup_wait_ms only matters at start: not worth a restart warning.
  ns.set_startup_wait_ms(settings_.startup_wait_ms());
  if (ns.SerializeAsString() != settings_.SerializeAsString()) {
    needs_restart->push_back("hook_settings (flush_interval_ms, max_batch_tunnels, max_pending_batches)");
  }
}

}  // namespace reitunnel::server
