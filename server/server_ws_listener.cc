// The WebSocket agent listener (--ws-listen) and per-agent identities: the
// parts of Server that issue 11 adds, kept apart from server.cc.

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
  auto hp = config::ParseHostPort(cfg_.ws_listen());
  if (!hp.ok()) return hp.status();
  asio::error_code ec;
  auto addr = asio::ip::make_address(hp->host, ec);
  if (ec) {
    asio::io_context resolve_io;
    asio::ip::tcp::resolver resolver(resolve_io);
    auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
    if (ec || results.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot resolve WebSocket listen address ", cfg_.ws_listen()));
    }
    addr = results.begin()->endpoint().address();
  }
  // The same admission, throttling, handshake and sessions as the TCP
  // listener; only the transport differs.
  HandshakeEnv env = tcp_env;
  env.websocket = true;
  env.ws_path = cfg_.ws_path();
  ws_listener_ = std::make_unique<AgentListener>(std::move(env), &admission_);
  if (auto st = ws_listener_->Listen({addr, hp->port}); !st.ok()) {
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
