#pragma once

// Applies the hook policy: which hooks see which event, what a failed call
// means (fail_closed / fail_open), how several hooks combine (stop_on_error /
// collect_and_continue), and delivery of notifications and data batches in
// order per hook through bounded queues. Lives on the data plane's executor;
// blocking decisions are awaitables that suspend only the asking coroutine.

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "asio/steady_timer.hpp"
#include "reitunnel/config/v1/server.pb.h"
#include "reitunnel/hook/v1/hook.pb.h"
#include "server/hooks/hook_client.h"
#include "server/hooks/hook_stats.h"

namespace reitunnel::server {

struct HookDecision {
  bool allowed = true;
  // Deny reason(s), verbatim from the hooks (bounded), joined with "; ".
  std::string reason;
};

class HookDispatcher {
 public:
  struct Hook {
    config::v1::HookConfig config;  // defaults filled in
    std::unique_ptr<HookClient> client;
  };

  HookDispatcher(asio::any_io_executor ex, config::v1::HookSettings settings,
                 hook::v1::ServerInfo server_info, std::vector<Hook> hooks);
  ~HookDispatcher();

  // True when some hook (or, except for data, an event watcher) wants `e`:
  // callers skip building requests, and the data plane skips aggregation,
  // otherwise.
  bool Subscribed(HookEvent e) const {
    return subscribed_[static_cast<int>(e)] || (e != HookEvent::kData && !observers_.empty());
  }
  bool empty() const { return hooks_.empty(); }

  // Blocking event. Fills request.context. Never throws.
  template <typename Request>
  asio::awaitable<HookDecision> Decide(HookEvent e, Request request) {
    FillContext(request.mutable_context());
    auto msg = std::make_shared<Request>(std::move(request));
    HookDecision d = co_await DecideMessage(e, msg);
    Observe(e, *msg, d);
    co_return d;
  }

  // Notification, queued per subscribed hook. Fills request.context.
  template <typename Request>
  void Notify(HookEvent e, Request request) {
    if (!Subscribed(e)) return;
    FillContext(request.mutable_context());
    auto msg = std::make_shared<Request>(std::move(request));
    Observe(e, *msg, HookDecision{});
    Enqueue(e, std::move(msg));
  }

  // Watchers of lifecycle events (admin WatchEvents). Called on the
  // dispatcher's executor, after a blocking event was decided.
  using Observer =
      std::function<void(HookEvent, const google::protobuf::Message&, const HookDecision&)>;
  int AddObserver(Observer o);
  void RemoveObserver(int id);
  const config::v1::HookSettings& settings() const { return settings_; }
  const hook::v1::ServerInfo& server_info() const { return server_info_; }
  // The bound agent listener, once known (events before it carry the
  // configured address).
  void set_listen_addr(const std::string& addr) { server_info_.set_listen_addr(addr); }

  // Queues traffic as data batches (split at max_batch_tunnels).
  void PublishTraffic(std::vector<hook::v1::TunnelTraffic> traffic);

  // Delivers what is queued (bounded by `deadline`), closes data streams,
  // then cancels anything left.
  asio::awaitable<void> Shutdown(std::chrono::milliseconds deadline);

  std::chrono::milliseconds flush_interval() const;

  struct HookView {
    const config::v1::HookConfig* config;
    const HookStats* stats;
    std::string state;
  };
  std::vector<HookView> Hooks() const;

 private:
  struct Pending {
    HookEvent event;
    std::shared_ptr<const google::protobuf::Message> msg;
    int attempts = 0;
  };
  struct HookState;

  void FillContext(hook::v1::EventContext* ctx) const;
  void Observe(HookEvent e, const google::protobuf::Message& msg, const HookDecision& d);
  asio::awaitable<HookDecision> DecideMessage(
      HookEvent e, std::shared_ptr<const google::protobuf::Message> request);
  // One hook's answer after its failure policy: allow, deny (with reason),
  // or nullopt-like "error" folded into allow/deny per policy.
  asio::awaitable<HookDecision> AskOne(HookState& h, HookEvent e,
                                       std::shared_ptr<const google::protobuf::Message> request);
  void Enqueue(HookEvent e, std::shared_ptr<const google::protobuf::Message> msg);
  void EnqueueOne(HookState& h, Pending p);
  asio::awaitable<void> Deliver(std::shared_ptr<HookState> h);

  asio::any_io_executor ex_;
  config::v1::HookSettings settings_;
  hook::v1::ServerInfo server_info_;
  std::vector<std::shared_ptr<HookState>> hooks_;
  bool subscribed_[kHookEventCount] = {};
  std::map<int, Observer> observers_;
  int next_observer_ = 0;
  bool shutting_down_ = false;
};

}  // namespace reitunnel::server
