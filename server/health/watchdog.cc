#include "server/health/watchdog.h"

#include "asio/experimental/as_tuple.hpp"
#include "asio/post.hpp"
#include "asio/use_awaitable.hpp"
#include "common/log/log.h"
#include "common/net/spawn.h"
#include "common/runtime/worker_pool.h"

namespace reitunnel::server {

namespace {
int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Watchdog::Watchdog(asio::any_io_executor control, runtime::WorkerPool& workers,
                   std::chrono::milliseconds interval, std::chrono::milliseconds bound,
                   std::function<void(bool)> on_change)
    : control_(control),
      workers_(workers),
      interval_(interval),
      bound_(bound),
      on_change_(std::move(on_change)),
      timer_(control),
      answered_(std::make_shared<std::vector<std::atomic<int64_t>>>(workers.size())) {
  for (auto& a : *answered_) a.store(NowNs());
}

void Watchdog::Start() { net::Spawn(control_, Loop(), "watchdog"); }

void Watchdog::Stop() {
  stopped_ = true;
  timer_.cancel();
}

asio::awaitable<void> Watchdog::Loop() {
  while (!stopped_) {
    for (int i = 0; i < workers_.size(); ++i) {
      asio::post(workers_.executor(i), [a = answered_, i] { (*a)[i].store(NowNs()); });
    }
    timer_.expires_after(interval_);
    auto [ec] = co_await timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec || stopped_) co_return;
    int wedged = -1;
    int64_t now = NowNs();
    for (int i = 0; i < workers_.size(); ++i) {
      int64_t age = now - (*answered_)[i].load();
      if (age > std::chrono::duration_cast<std::chrono::nanoseconds>(bound_).count()) {
        wedged = i;
        break;
      }
    }
    bool healthy = wedged < 0;
    wedged_.store(wedged);
    if (healthy != healthy_.exchange(healthy)) {
      if (healthy) {
        log::Info("data_plane_recovered", "every worker answers again");
      } else {
        log::Error("data_plane_wedged", "a worker has not run its event loop within the bound",
                   {{"worker", wedged}, {"bound_ms", static_cast<long long>(bound_.count())}});
      }
      if (on_change_) on_change_(healthy);
    }
  }
}

}  // namespace reitunnel::server
