#include "common/transport/tls/tls_transport.h"

namespace reitunnel::transport {

asio::awaitable<void> TlsClientHandshake(net::Conn& conn, SSL_CTX* ctx,
                                         const std::string& server_name) {
  co_await conn.TlsConnect(ctx, server_name);
}

asio::awaitable<void> TlsServerHandshake(net::Conn& conn, SSL_CTX* ctx) {
  co_await conn.TlsAccept(ctx);
}

}  // namespace reitunnel::transport
