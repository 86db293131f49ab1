// The WebSocket agent listener (--ws-listen) and per-agent identities: the
// parts of Server that issue 11 adds, kept apart from server.cc.

#include "server/listen_address.h"
#include "absl/strings/str_cat.h"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "common/config/parse.h"
#include "common/log/log.h"
#include "server/handshake/handshake.h"
#include "server/listener/agent_listener.h"
#include "server/server.h"

namespace reitunnel::server {

void Server::SetIdentities(std::shared_ptr<const AgentDirectory> agents) {
  auth_.Update(cfg_.token(), std::move(agents));
}

std::string Server::ws_listen_addr() const {
  return ws_listener_ ? ws_listener_->address() : "";
}

absl::Status Server::StartWebSocketListener(const HandshakeEnv& tcp_env) {
  if (cfg_.ws_listen().empty()) return absl::OkStatus();
  auto endpoint = ResolveListenAddress(cfg_.ws_listen(), "WebSocket listen address");
  if (!endpoint.ok()) return endpoint.status();
  // The same admission, throttling, handshake and sessions as the TCP
  // listener; only the transport differs.
  HandshakeEnv env = tcp_env;
  env.websocket = true;
  env.ws_path = cfg_.ws_path();
  ws_listener_ = std::make_unique<AgentListener>(std::move(env), &admission_);
  if (auto st = ws_listener_->Listen(*endpoint); !st.ok()) {
    return absl::Status(st.code(), absl::StrCat("cannot listen for WebSocket agents on ",
                                                cfg_.ws_listen(), ": ", st.message()));
  }
  log::Info("ws_listener_ready", "listening for agents over WebSocket",
            {{"addr", ws_listener_->address()},
             {"path", cfg_.ws_path()},
             {"scheme", tls_ ? "wss" : "ws"}});
  return absl::OkStatus();
}

}  // namespace reitunnel::server
