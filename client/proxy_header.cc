#include "client/proxy_header.h"

#include <optional>

#include "asio/ip/address.hpp"
#include "common/config/parse.h"
#include "common/proxy_protocol/proxy_protocol.h"

namespace reitunnel::client {
namespace {

std::optional<proxy_protocol::Endpoint> ParseEndpoint(const std::string& text) {
  absl::StatusOr<config::HostPort> hp = config::ParseHostPort(text);
  if (!hp.ok()) return std::nullopt;
  std::error_code ec;
  asio::ip::address addr = asio::ip::make_address(hp->host, ec);
  if (ec) return std::nullopt;
  return proxy_protocol::Endpoint{addr, hp->port};
}

}  // namespace

std::string ProxyHeaderFor(std::string_view version, const wire::v1::StartRelay& relay) {
  if (version.empty()) return "";
  const proxy_protocol::Version v =
      version == "v1" ? proxy_protocol::Version::kV1 : proxy_protocol::Version::kV2;
  std::optional<proxy_protocol::Endpoint> visitor = ParseEndpoint(relay.visitor_addr());
  std::optional<proxy_protocol::Endpoint> public_endpoint = ParseEndpoint(relay.public_addr());
  if (visitor && public_endpoint) {
    return proxy_protocol::EncodeForConnection(v, *visitor, *public_endpoint);
  }
  if (v == proxy_protocol::Version::kV1) return proxy_protocol::EncodeV1Unknown();
  proxy_protocol::Header local;
  local.command = proxy_protocol::Command::kLocal;
  local.transport = proxy_protocol::Transport::kUnspec;
  // Without TLVs the header always fits.
  return *proxy_protocol::EncodeV2(local);
}

}  // namespace reitunnel::client
