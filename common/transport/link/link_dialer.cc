#include "common/transport/link/link_dialer.h"

#include <system_error>

#include "asio/error.hpp"
#include "asio/this_coro.hpp"
#include "common/net/deadline.h"
#include "common/transport/errors/errors.h"
#include "common/transport/http1/prefixed_stream.h"
#include "common/transport/http_proxy/proxy_connect.h"
#include "common/transport/tcp/tcp_transport.h"
#include "common/transport/tls/tls_transport.h"
#include "common/transport/ws/ws_handshake.h"

namespace reitunnel::transport {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds Left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

}  // namespace

asio::awaitable<std::shared_ptr<Stream>> DialLink(const LinkDialSpec& spec) {
  if (spec.server.scheme == url::LinkScheme::kWss && !spec.tls) {
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            "wss:// needs a TLS context");
  }
  const auto end = Clock::now() + spec.timeout;
  auto ex = co_await asio::this_coro::executor;
  const std::string& host = spec.proxy ? spec.proxy->host : spec.server.host;
  const uint16_t port = spec.proxy ? spec.proxy->port : spec.server.port;
  auto conn = co_await DialTcp(host, port, spec.timeout);
  // The layers above have their own timeouts too; this one bounds the sum.
  net::Deadline deadline(ex, Left(end), [conn] { conn->Close(); });
  try {
    std::shared_ptr<Stream> stream = conn;
    if (spec.proxy) {
      ProxyConnectOptions po;
      po.timeout = Left(end);
      const url::ProxyCredentials* creds =
          spec.proxy->credentials ? &*spec.proxy->credentials : nullptr;
      std::string rest =
          co_await ProxyConnect(*conn, spec.server.host, spec.server.port, creds, po);
      if (!rest.empty()) {
        // The server speaks first on every transport, and TLS reads the
        // socket itself: bytes here are from the proxy, not the server.
        if (spec.tls || spec.server.is_websocket()) {
          ThrowTransportError(TransportError::kProtocolError,
                              "the proxy sent data before the connection was set up");
        }
        stream = http1::WithPrefix(conn, std::move(rest));
      }
    }
    if (spec.tls) {
      const std::string& name =
          spec.tls_server_name.empty() ? spec.server.host : spec.tls_server_name;
      co_await TlsClientHandshake(*conn, spec.tls, name);
    }
    if (spec.server.is_websocket()) {
      WsClientOptions wo;
      wo.host_header = spec.server.HostHeader();
      wo.path = spec.server.path;
      wo.timeout = Left(end);
      wo.stream.ping_interval = spec.ws_ping_interval;
      std::shared_ptr<WsStream> ws = co_await WsConnect(stream, wo);
      stream = std::move(ws);
    }
    if (deadline.expired()) throw std::system_error(asio::error::timed_out);
    co_return stream;
  } catch (const std::system_error&) {
    if (deadline.expired()) throw std::system_error(asio::error::timed_out);
    throw;
  }
}

}  // namespace reitunnel::transport
