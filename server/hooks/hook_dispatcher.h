#pragma once

// Applies the hook policy: which hooks see which event (their subscription
// narrowed to what each hook implements, from Describe), what a failed call
// means (fail_closed / fail_open), how several hooks combine (stop_on_error
// / collect_and_continue), and delivery of notifications and data batches
// in order per hook through bounded queues.
//
// Threads: Decide() may be awaited from any worker's executor and resumes
// there (the gRPC completion is posted straight back to it). Notify() may be
// called from any thread; it posts to the dispatcher's own executor (the
// control thread), where queues, delivery and data-batch aggregation live.

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "reitunnel/config/v1/server.pb.h"
#include "reitunnel/hook/v1/hook.pb.h"
#include "server/hooks/hook_client.h"
#include "server/hooks/hook_stats.h"

namespace reitunnel::server {

class TunnelCore;

// Three-state outcome of a blocking event.
struct HookDecision {
  enum class Kind {
    kAllow,
    // A hook said DENY: permanent; `reason` is the hook's, verbatim.
    kDeny,
    // No hook denied, but one could not decide (down, slow, not
    // implementing the event) and its fail_closed policy refused. Retryable;
    // `reason` is generic (details are logged, never sent to agents).
    kUnavailable,
  };
  Kind kind = Kind::kAllow;
  std::string reason;

  bool allowed() const { return kind == Kind::kAllow; }
  static HookDecision Allow() { return {}; }
};

class HookDispatcher {
 public:
  struct Hook {
    config::v1::HookConfig config;  // defaults filled in
    std::unique_ptr<HookClient> client;
  };

  // `ex` is the control executor (queues, delivery, aggregation).
  HookDispatcher(asio::any_io_executor ex, config::v1::HookSettings settings,
                 hook::v1::ServerInfo server_info, std::vector<Hook> hooks);
  ~HookDispatcher();

  // Any thread. True when some hook (or, except for data, an event watcher)
  // wants `e`: callers skip building requests, and the data plane skips
  // aggregation, otherwise.
  bool Subscribed(HookEvent e) const {
    int i = static_cast<int>(e);
    if (subscribed_[i].load(std::memory_order_relaxed)) return true;
    if (e == HookEvent::kData) return false;
    return (::reitunnel::hooks::Info(e).default_subscribed ? observers_count_ : visitor_observers_count_)
               .load(std::memory_order_relaxed) > 0;
  }
  bool empty() const { return hooks_.empty(); }

  // Blocking event, from any executor. Fills request.context. Never throws.
  template <typename Request>
  asio::awaitable<HookDecision> Decide(HookEvent e, Request request) {
    FillContext(request.mutable_context());
    auto msg = std::make_shared<const Request>(std::move(request));
    HookDecision d = co_await DecideMessage(e, msg);
    Observe(e, msg, d);
    co_return d;
  }

  // Notification, from any thread; queued per subscribed hook.
  template <typename Request>
  void Notify(HookEvent e, Request request) {
    if (!Subscribed(e)) return;
    FillContext(request.mutable_context());
    auto msg = std::make_shared<const Request>(std::move(request));
    asio::post(ex_, [this, e, msg] {
      Observe(e, msg, HookDecision{});
      Enqueue(e, msg);
    });
  }

  // Start-up (control executor): asks every hook what it implements,
  // retrying unreachable hooks until `max_wait`. Fails when a hook that
  // answered lacks a blocking event it was explicitly subscribed to.
  // `unreachable` receives the hooks that never answered.
  asio::awaitable<absl::Status> WaitUntilReady(std::chrono::milliseconds max_wait,
                                               std::vector<std::string>* unreachable);
  // Whether a hook with this name is subscribed to `e` and fails closed.
  bool FailsClosed(const std::string& hook, HookEvent e) const;
  // Background work on the control executor: Describe after reconnects and
  // data-batch flushes. Call once, after WaitUntilReady.
  void Start();

  // Watchers of lifecycle events (admin WatchEvents), on the control
  // executor, after a blocking event was decided. Visitor events only go
  // to observers added with `visitor_events` (while one exists the data
  // plane builds a request per visitor; agent and tunnel events are rare
  // enough to watch for the process's life).
  using Observer = std::function<void(HookEvent, const google::protobuf::Message&,
                                      const HookDecision&)>;
  int AddObserver(Observer o, bool visitor_events = true);  // control executor
  void RemoveObserver(int id);                              // control executor
  // The settings in force (a copy: SIGHUP may change the strategy).
  config::v1::HookSettings settings() const;

  // SIGHUP, control executor: applies each hook's timeout_ms and
  // failure_policy and hook_settings.strategy to calls from now on (calls
  // in flight keep theirs). Anything else that differs in `next` (hooks
  // added, removed or reordered, addresses, TLS, events, queue sizes, batch
  // settings) cannot change live: it is named in *needs_restart and the
  // running hooks stay as they are. What changed is named in *applied.
  void UpdateSettings(const config::v1::ServerConfig& next, std::vector<std::string>* applied,
                      std::vector<std::string>* needs_restart);
  hook::v1::ServerInfo server_info() const;
  // The bound agent listener, once known.
  void set_listen_addr(const std::string& addr);

  // Traffic of open tunnels, flushed as data batches every
  // flush_interval_ms. Any thread.
  void TunnelOpened(std::shared_ptr<TunnelCore> tunnel);
  // Publishes the tunnels' last traffic (one batch for all), then their
  // OnTunnelClose: the last batch naming a tunnel precedes its close. Any
  // thread; `closes[i]` belongs to `tunnels[i]`, whose counters are final.
  void TunnelsClosed(std::vector<std::shared_ptr<TunnelCore>> tunnels,
                     std::vector<hook::v1::TunnelCloseRequest> closes);

  // Control executor: queues `traffic` as data batches (split at
  // max_batch_tunnels) for every hook that wants data.
  void PublishTraffic(std::vector<hook::v1::TunnelTraffic> traffic);

  // Control executor. Delivers what is queued (bounded by `deadline`),
  // closes data streams, then cancels anything left.
  asio::awaitable<void> Shutdown(std::chrono::milliseconds deadline);

  std::chrono::milliseconds flush_interval() const;

  struct HookView {
    // As in force now (timeout and failure policy follow reloads).
    std::shared_ptr<const config::v1::HookConfig> config;
    const HookStats* stats;
    std::string state;
    // Effective subscription (configured ∩ implemented) and what Describe
    // said, for operators.
    std::vector<std::string> events;
    std::vector<std::string> implemented;
    bool described = false;
  };
  // Any thread.
  std::vector<HookView> Hooks() const;

 private:
  struct Pending {
    HookEvent event;
    std::shared_ptr<const google::protobuf::Message> msg;
    int attempts = 0;
  };
  struct HookState;
  struct OpenTunnel;

  void FillContext(hook::v1::EventContext* ctx) const;
  void Observe(HookEvent e, std::shared_ptr<const google::protobuf::Message> msg,
               const HookDecision& d);
  asio::awaitable<HookDecision> DecideMessage(
      HookEvent e, std::shared_ptr<const google::protobuf::Message> request);
  asio::awaitable<HookDecision> AskOne(std::shared_ptr<HookState> h, HookEvent e,
                                       std::shared_ptr<const google::protobuf::Message> request);
  HookDecision Failed(HookState& h, HookEvent e, const std::string& why);
  void Enqueue(HookEvent e, std::shared_ptr<const google::protobuf::Message> msg);
  void EnqueueOne(HookState& h, Pending p);
  asio::awaitable<void> Deliver(std::shared_ptr<HookState> h);
  void FlushTraffic();
  asio::awaitable<void> FlushLoop();
  asio::awaitable<void> MonitorLoop();
  void RequestDescribe(std::shared_ptr<HookState> h);
  void ApplyDescribe(HookState& h, const grpc::Status& s, const hook::v1::DescribeResponse& r);
  void RecomputeSubscribed();
  void NotifyIdleIfDrained();

  asio::any_io_executor ex_;
  // Immutable but for strategy, which changes under settings_mu_ and is
  // read on the hot path as collect_.
  mutable std::mutex settings_mu_;
  config::v1::HookSettings settings_;
  std::atomic<bool> collect_{false};
  mutable std::mutex info_mu_;
  hook::v1::ServerInfo server_info_;  // guarded by info_mu_
  std::vector<std::shared_ptr<HookState>> hooks_;
  std::atomic<bool> subscribed_[kHookEventCount] = {};
  struct ObserverEntry {
    Observer fn;
    bool visitor_events = true;
  };
  void CountObservers();
  std::map<int, ObserverEntry> observers_;  // control executor
  std::atomic<int> observers_count_{0};
  std::atomic<int> visitor_observers_count_{0};
  int next_observer_ = 0;
  std::map<std::string, OpenTunnel> open_tunnels_;  // control executor, by tunnel id
  asio::steady_timer flush_timer_;
  asio::steady_timer monitor_timer_;
  asio::steady_timer idle_;  // cancelled when queues drain or a worker ends
  bool started_ = false;
  bool shutting_down_ = false;
};

}  // namespace reitunnel::server
