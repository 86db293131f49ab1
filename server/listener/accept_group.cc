#include "server/listener/accept_group.h"

#include "asio/experimental/as_tuple.hpp"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "asio/use_awaitable.hpp"
#include "common/net/listener.h"
#include "common/net/spawn.h"
#include "common/runtime/worker_pool.h"

namespace reitunnel::server {

using asio::ip::tcp;

AcceptGroup::AcceptGroup(runtime::WorkerPool* workers, const char* name, OnAccept on_accept,
                         OnError on_error)
    : workers_(workers),
      name_(name),
      on_accept_(std::move(on_accept)),
      on_error_(std::move(on_error)) {}

absl::Status AcceptGroup::Listen(const tcp::endpoint& ep) {
  std::vector<asio::any_io_executor> exs;
  for (int i = 0; i < workers_->size(); ++i) exs.push_back(workers_->executor(i));
  auto group = net::ListenGroup(ep, exs);
  if (!group.ok()) return group.status();
  for (auto& a : *group) acceptors_.push_back(std::make_shared<tcp::acceptor>(std::move(a)));
  auto local = acceptors_.front()->local_endpoint();
  address_ = net::EndpointString(local);
  port_ = local.port();
  for (int i = 0; i < static_cast<int>(acceptors_.size()); ++i) {
    net::Spawn(workers_->executor(i), AcceptLoop(i, acceptors_[i]), name_);
  }
  return absl::OkStatus();
}

void AcceptGroup::Close() {
  for (auto& a : acceptors_) {
    asio::post(a->get_executor(), [a] {
      asio::error_code ec;
      a->close(ec);
    });
  }
}

asio::awaitable<void> AcceptGroup::AcceptLoop(int worker, std::shared_ptr<tcp::acceptor> acc) {
  asio::error_code ec;
  const auto protocol = acc->local_endpoint(ec).protocol();
  if (ec) co_return;
  // Named, not a temporary in the co_await expression (GCC 12 bug).
  const net::AcceptedFn accepted = [this, worker](tcp::socket s, std::string peer) {
    on_accept_(worker, std::move(s), std::move(peer));
  };
  for (;;) {
    ec = co_await net::AcceptBatch(*acc, protocol, accepted);
    if (!acc->is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // EMFILE and friends: keep serving what is established.
      on_error_(ec);
      asio::steady_timer backoff(acc->get_executor(), std::chrono::milliseconds(50));
      co_await backoff.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
  }
}

}  // namespace reitunnel::server
