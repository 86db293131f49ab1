#pragma once

// Error codes of the stacked transports (WebSocket, HTTP CONNECT proxy), so
// a caller can tell a refused handshake or a proxy wanting credentials (a
// configuration problem) from a broken connection (retry). They are thrown
// as std::system_error whose what() carries the details.

#include <string>
#include <system_error>

namespace reitunnel::transport {

enum class TransportError {
  // The peer answered the HTTP upgrade with something other than 101, or the
  // request we received was not an acceptable upgrade.
  kHandshakeRejected = 1,
  // Malformed HTTP head or WebSocket frame, or a peer breaking RFC 6455.
  kProtocolError,
  // An HTTP head, frame or message exceeded its configured bound.
  kTooLarge,
  // The proxy answered 407.
  kProxyAuthRequired,
  // The proxy answered CONNECT with another non-2xx status.
  kProxyRefused,
  // The WebSocket peer closed with a status other than 1000/1005.
  kPeerClosedWithError,
  // The connection ended without a WebSocket close frame.
  kClosedWithoutCloseFrame,
  // A write after our close frame was sent.
  kWriteAfterClose,
};

const std::error_category& TransportErrorCategory();

inline std::error_code make_error_code(TransportError e) {
  return {static_cast<int>(e), TransportErrorCategory()};
}

[[noreturn]] void ThrowTransportError(TransportError e, const std::string& what);

}  // namespace reitunnel::transport

template <>
struct std::is_error_code_enum<reitunnel::transport::TransportError> : std::true_type {};
