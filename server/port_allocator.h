#pragma once

// Binds public tunnel listeners inside the configured port range.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "reitunnel/wire/v1/wire.pb.h"

namespace reitunnel::server {

struct Refusal {
  wire::v1::RefusalCode code;
  std::string reason;
};

class PortAllocator {
 public:
  PortAllocator(asio::ip::address bind_addr, uint16_t low, uint16_t high)
      : bind_addr_(bind_addr), low_(low), high_(high) {}

  // Binds and listens on `requested`, or on any free port of the range when
  // it is 0. On failure the refusal says why in words an agent can print.
  asio::ip::tcp::acceptor Bind(asio::io_context& io, uint32_t requested, Refusal* refusal) const;

  std::string RangeString() const;
  bool InRange(uint32_t port) const { return port >= low_ && port <= high_; }

 private:
  asio::ip::address bind_addr_;
  uint16_t low_;
  uint16_t high_;
};

}  // namespace reitunnel::server
