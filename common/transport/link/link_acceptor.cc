#include "common/transport/link/link_acceptor.h"

#include "common/transport/tls/tls_transport.h"

namespace reitunnel::transport {

asio::awaitable<AcceptedLink> AcceptLink(std::shared_ptr<net::Conn> conn,
                                         const LinkAcceptSpec& spec) {
  AcceptedLink out;
  if (spec.tls) {
    co_await TlsServerHandshake(*conn, spec.tls);
    out.peer_certificate = PeerCertificateOf(conn->ssl());
  }
  if (!spec.websocket) {
    out.stream = std::move(conn);
    co_return out;
  }
  const WsServerOptions options = spec.ws;
  std::shared_ptr<WsStream> ws = co_await WsAccept(conn, options);
  out.forwarded_for = ws->forwarded_for();
  out.stream = std::move(ws);
  co_return out;
}

}  // namespace reitunnel::transport
