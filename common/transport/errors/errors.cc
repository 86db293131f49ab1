#include "common/transport/errors/errors.h"

namespace reitunnel::transport {
namespace {

class Category : public std::error_category {
 public:
  const char* name() const noexcept override { return "transport"; }
  std::string message(int c) const override {
    switch (static_cast<TransportError>(c)) {
      case TransportError::kHandshakeRejected:
        return "handshake rejected";
      case TransportError::kProtocolError:
        return "protocol error";
      case TransportError::kTooLarge:
        return "too large";
      case TransportError::kProxyAuthRequired:
        return "proxy authentication required";
      case TransportError::kProxyRefused:
        return "proxy refused the connection";
      case TransportError::kPeerClosedWithError:
        return "peer closed with an error";
      case TransportError::kClosedWithoutCloseFrame:
        return "connection closed without a close frame";
      case TransportError::kWriteAfterClose:
        return "write after close";
    }
    return "transport error";
  }
};

}  // namespace

const std::error_category& TransportErrorCategory() {
  static const Category category;
  return category;
}

void ThrowTransportError(TransportError e, const std::string& what) {
  throw std::system_error(make_error_code(e), what);
}

}  // namespace reitunnel::transport
