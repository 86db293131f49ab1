#include "server/health/watchdog.h"

#include <algorithm>

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
  // Check often enough that a bound shorter than the interval still holds.
  const auto tick = std::max(std::chrono::milliseconds(10), std::min(interval_, bound_ / 2));
  const int64_t bound_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(bound_).count();
  const int64_t interval_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(interval_).count();
  posted_.assign(workers_.size(), 0);
  while (!stopped_) {
    int wedged = -1;
    const int64_t now = NowNs();
    for (int i = 0; i < workers_.size(); ++i) {
      const bool outstanding = posted_[i] != 0 && (*answered_)[i].load() < posted_[i];
      if (outstanding) {
        if (now - posted_[i] > bound_ns && wedged < 0) wedged = i;
        continue;  // one probe in flight per worker
      }
      if (posted_[i] == 0 || now - posted_[i] >= interval_ns) {
        posted_[i] = now;
        asio::post(workers_.executor(i), [a = answered_, i] { (*a)[i].store(NowNs()); });
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
    timer_.expires_after(tick);
    auto [ec] = co_await timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec || stopped_) co_return;
  }
}

}  // namespace reitunnel::server
