#include "server/listener/agent_listener.h"

#include "asio/experimental/as_tuple.hpp"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "asio/use_awaitable.hpp"
#include "common/log/log.h"
#include "common/net/listener.h"
#include "common/net/spawn.h"
#include "common/runtime/worker_pool.h"
#include "server/auth/auth_throttle.h"
#include "server/listener/reject_log.h"
#include "server/registry/session_registry.h"

namespace reitunnel::server {

using asio::ip::tcp;

AgentListener::AgentListener(HandshakeEnv env, Admission* admission)
    : env_(std::move(env)), admission_(admission) {}

absl::Status AgentListener::Listen(const tcp::endpoint& ep) {
  auto* workers = env_.session.workers;
  std::vector<asio::any_io_executor> exs;
  for (int i = 0; i < workers->size(); ++i) exs.push_back(workers->executor(i));
  auto group = net::ListenGroup(ep, exs);
  if (!group.ok()) return group.status();
  for (auto& a : *group) acceptors_.push_back(std::make_shared<tcp::acceptor>(std::move(a)));
  auto local = acceptors_.front()->local_endpoint();
  address_ = net::EndpointString(local);
  port_ = local.port();
  for (int i = 0; i < static_cast<int>(acceptors_.size()); ++i) {
    net::Spawn(workers->executor(i), AcceptLoop(i, acceptors_[i]), "agent_accept");
  }
  return absl::OkStatus();
}

void AgentListener::Close() {
  for (auto& a : acceptors_) {
    asio::post(a->get_executor(), [a] {
      asio::error_code ec;
      a->close(ec);
    });
  }
}

void AgentListener::Accepted(int worker, tcp::socket socket, std::string peer) {
  std::string ip = IpOf(peer);
  bool known = env_.session.registry->HasSessionFrom(ip);
  // A source blocked for failed authentications is closed before it costs a
  // handshake, unless it has a session (its data connections must work).
  if (!known && env_.throttle->BlockedFor(ip).count() > 0) {
    env_.throttle->CountRefused();
    env_.rejects->Record(ip, peer, "blocked after repeated failed authentications");
    return;
  }
  const char* why = nullptr;
  Admission::Ticket ticket = admission_->Admit(ip, known, &why);
  if (!ticket) {
    env_.rejects->Record(ip, peer, why);
    return;  // closed as the socket goes out of scope: no byte written
  }
  net::Spawn(socket.get_executor(),
             ServeAgentConnection(env_, worker, std::move(socket), std::move(peer),
                                  std::move(ticket)),
             "agent_connection");
}

asio::awaitable<void> AgentListener::AcceptLoop(int worker, std::shared_ptr<tcp::acceptor> acc) {
  asio::error_code ec;
  const auto protocol = acc->local_endpoint(ec).protocol();
  if (ec) co_return;
  // Named, not a temporary in the co_await expression (GCC 12 bug).
  const net::AcceptedFn accepted = [this, worker](tcp::socket s, std::string peer) {
    Accepted(worker, std::move(s), std::move(peer));
  };
  for (;;) {
    ec = co_await net::AcceptBatch(*acc, protocol, accepted);
    if (!acc->is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      env_.rejects->Record("*", "*", "accept failed: " + ec.message());
      asio::steady_timer backoff(acc->get_executor(), std::chrono::milliseconds(50));
      co_await backoff.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
  }
}

}  // namespace reitunnel::server
