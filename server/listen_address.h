#pragma once

// The endpoint a listener flag (HOST:PORT, HOST a literal address or a
// name resolved once at start) names.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "common/config/parse.h"

namespace reitunnel::server {

// `what` names the flag in the error ("listen address").
inline absl::StatusOr<asio::ip::tcp::endpoint> ResolveListenAddress(const std::string& spec,
                                                                    const char* what) {
  auto hp = config::ParseHostPort(spec);
  if (!hp.ok()) return hp.status();
  asio::error_code ec;
  auto addr = asio::ip::make_address(hp->host, ec);
  if (ec) {
    asio::io_context resolve_io;
    asio::ip::tcp::resolver resolver(resolve_io);
    auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
    if (ec || results.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("cannot resolve ", what, " ", spec));
    }
    addr = results.begin()->endpoint().address();
  }
  return asio::ip::tcp::endpoint(addr, hp->port);
}

}  // namespace reitunnel::server
