#include "common/transport/ws/ws_handshake.h"

#include <algorithm>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/transport/errors/errors.h"
#include "common/transport/http1/head_reader.h"
#include "common/transport/http1/timeout.h"

namespace reitunnel::transport {
namespace {

asio::awaitable<std::shared_ptr<WsStream>> ConnectImpl(std::shared_ptr<Stream> inner,
                                                       const WsClientOptions& o) {
  const std::string key = ws::MakeClientKey();
  ws::ClientRequestSpec spec{o.host_header, o.path, o.subprotocol, o.extra_headers};
  absl::StatusOr<std::string> request = ws::BuildClientRequest(spec, key);
  if (!request.ok()) {
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            std::string(request.status().message()));
  }
  co_await inner->WriteAll(asio::buffer(*request));
  http1::HeadAndRest answer = co_await http1::ReadHead(*inner, o.max_response_head);
  std::string selected;
  absl::Status st = ws::CheckServerResponse(answer.head, key, o.subprotocol, &selected);
  if (!st.ok()) {
    ThrowTransportError(absl::IsPermissionDenied(st) ? TransportError::kHandshakeRejected
                                                     : TransportError::kProtocolError,
                        std::string(st.message()));
  }
  auto ws = WsStream::Create(std::move(inner), ws::Role::kClient, o.stream, std::move(answer.rest));
  ws->set_handshake_info(std::move(selected), "");
  co_return ws;
}

asio::awaitable<void> Refuse(Stream& inner, int status) {
  const std::string answer = ws::BuildErrorResponse(status);
  co_await inner.WriteAll(asio::buffer(answer));
  inner.ShutdownSend();
}

asio::awaitable<std::shared_ptr<WsStream>> AcceptImpl(std::shared_ptr<Stream> inner,
                                                      const WsServerOptions& o) {
  http1::HeadAndRest request;
  try {
    request = co_await http1::ReadHead(*inner, o.max_request_head);
  } catch (const std::system_error& e) {
    if (e.code() != make_error_code(TransportError::kTooLarge)) throw;
  }
  if (request.head.empty()) {
    co_await Refuse(*inner, 431);
    ThrowTransportError(TransportError::kTooLarge,
                        absl::StrCat("websocket upgrade refused (431): request head over ",
                                     o.max_request_head, " bytes"));
  }
  ws::UpgradeCheck check = ws::CheckClientRequest(request.head, o.path);
  if (check.status == 101 && !o.subprotocol.empty() && o.require_subprotocol &&
      std::find(check.request.offered_subprotocols.begin(),
                check.request.offered_subprotocols.end(),
                o.subprotocol) == check.request.offered_subprotocols.end()) {
    check.status = 400;
    check.error = absl::StrCat("client did not offer subprotocol ", o.subprotocol);
  }
  if (check.status != 101) {
    co_await Refuse(*inner, check.status);
    ThrowTransportError(
        TransportError::kHandshakeRejected,
        absl::StrCat("websocket upgrade refused (", check.status, "): ", check.error));
  }
  std::string selected;
  if (!o.subprotocol.empty() &&
      std::find(check.request.offered_subprotocols.begin(),
                check.request.offered_subprotocols.end(),
                o.subprotocol) != check.request.offered_subprotocols.end()) {
    selected = o.subprotocol;
  }
  const std::string answer = ws::BuildAcceptResponse(check.request.key, selected);
  co_await inner->WriteAll(asio::buffer(answer));
  auto ws =
      WsStream::Create(std::move(inner), ws::Role::kServer, o.stream, std::move(request.rest));
  ws->set_handshake_info(std::move(selected), std::move(check.request.forwarded_for));
  co_return ws;
}

}  // namespace

asio::awaitable<std::shared_ptr<WsStream>> WsConnect(std::shared_ptr<Stream> inner,
                                                     WsClientOptions options) {
  auto ws = co_await http1::WithTimeout(ConnectImpl(std::move(inner), options), options.timeout,
                                        "websocket handshake timed out");
  ws->StartKeepalive();
  co_return ws;
}

asio::awaitable<std::shared_ptr<WsStream>> WsAccept(std::shared_ptr<Stream> inner,
                                                    WsServerOptions options) {
  auto ws = co_await http1::WithTimeout(AcceptImpl(std::move(inner), options), options.timeout,
                                        "websocket handshake timed out");
  ws->StartKeepalive();
  co_return ws;
}

}  // namespace reitunnel::transport
