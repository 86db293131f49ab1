#include "server/listener/agent_listener.h"

#include "common/log/log.h"
#include "common/net/spawn.h"
#include "server/auth/auth_throttle.h"
#include "server/listener/reject_log.h"
#include "server/registry/session_registry.h"

namespace reitunnel::server {

using asio::ip::tcp;

AgentListener::AgentListener(HandshakeEnv env, Admission* admission)
    : env_(std::move(env)),
      admission_(admission),
      group_(
          env_.session.workers, "agent_accept",
          [this](int worker, tcp::socket s, std::string peer) {
            Accepted(worker, std::move(s), std::move(peer));
          },
          [this](const asio::error_code& ec) {
            env_.rejects->Record("*", "*", "accept failed: " + ec.message());
          }) {}

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

}  // namespace reitunnel::server
