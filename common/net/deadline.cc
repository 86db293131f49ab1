#include "common/net/deadline.h"

namespace reitunnel::net {

Deadline::Deadline(asio::any_io_executor ex, std::chrono::milliseconds timeout,
                   std::function<void()> on_expiry)
    : state_(std::make_shared<State>(std::move(ex))) {
  state_->on_expiry = std::move(on_expiry);
  state_->timer.expires_after(timeout);
  state_->timer.async_wait([s = state_](const asio::error_code& ec) {
    if (ec || s->cancelled) return;
    s->expired = true;
    if (s->on_expiry) s->on_expiry();
    s->on_expiry = nullptr;
  });
}

void Deadline::Cancel() {
  if (state_->cancelled || state_->expired) return;
  state_->cancelled = true;
  state_->on_expiry = nullptr;
  state_->timer.cancel();
}

}  // namespace reitunnel::net
