#include "common/transport/http_proxy/proxy_connect.h"

#include "absl/status/status.h"
#include "common/transport/errors/errors.h"
#include "common/transport/http1/head_reader.h"
#include "common/transport/http1/timeout.h"
#include "common/transport/url/host_port.h"

namespace reitunnel::transport {
namespace {

asio::awaitable<std::string> ConnectImpl(Stream& conn, const std::string& target,
                                         const std::string& request, bool sent_credentials,
                                         size_t max_head) {
  co_await conn.WriteAll(asio::buffer(request));
  http1::HeadAndRest answer = co_await http1::ReadHead(conn, max_head);
  absl::Status st = CheckConnectResponse(answer.head, target, sent_credentials);
  if (!st.ok()) {
    const TransportError e = absl::IsUnauthenticated(st)    ? TransportError::kProxyAuthRequired
                             : absl::IsPermissionDenied(st) ? TransportError::kProxyRefused
                                                            : TransportError::kProtocolError;
    ThrowTransportError(e, std::string(st.message()));
  }
  co_return std::move(answer.rest);
}

}  // namespace

asio::awaitable<std::string> ProxyConnect(Stream& proxy_conn, const std::string& target_host,
                                          uint16_t target_port, const ProxyCredentials* creds,
                                          ProxyConnectOptions options) {
  const std::string target = url::JoinHostPort(target_host, target_port);
  const std::string request = BuildConnectRequest(target_host, target_port, creds);
  co_return co_await http1::WithTimeout(
      ConnectImpl(proxy_conn, target, request, creds != nullptr, options.max_response_head),
      options.timeout, "HTTP proxy CONNECT timed out");
}

}  // namespace reitunnel::transport
