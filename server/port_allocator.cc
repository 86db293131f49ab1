#include "server/port_allocator.h"

#include <random>

#include "absl/strings/str_cat.h"

namespace reitunnel::server {

namespace {

bool TryBind(asio::ip::tcp::acceptor& acc, const asio::ip::tcp::endpoint& ep,
             asio::error_code& ec) {
  acc.open(ep.protocol(), ec);
  if (ec) return false;
  // Lets a restarted server rebind ports still in TIME_WAIT; a port with a
  // live listener still fails with EADDRINUSE.
  acc.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    asio::error_code ignored;
    acc.close(ignored);
    return false;
  }
  return true;
}

}  // namespace

std::string PortAllocator::RangeString() const {
  return low_ == high_ ? absl::StrCat(low_) : absl::StrCat(low_, "-", high_);
}

asio::ip::tcp::acceptor PortAllocator::Bind(asio::io_context& io, uint32_t requested,
                                            Refusal* refusal) const {
  asio::ip::tcp::acceptor acc(io);
  asio::error_code ec;
  if (requested != 0) {
    if (requested < low_ || requested > high_) {
      *refusal = {wire::v1::REFUSAL_CODE_PORT_OUT_OF_RANGE,
                  absl::StrCat("port ", requested, " is outside the allowed range ",
                               RangeString())};
      return acc;
    }
    if (!TryBind(acc, {bind_addr_, static_cast<uint16_t>(requested)}, ec)) {
      if (ec == asio::error::address_in_use) {
        *refusal = {wire::v1::REFUSAL_CODE_PORT_IN_USE,
                    absl::StrCat("port ", requested, " is already in use")};
      } else {
        *refusal = {wire::v1::REFUSAL_CODE_LIMIT,
                    absl::StrCat("cannot listen on port ", requested, ": ", ec.message())};
      }
    }
    return acc;
  }
  // Start at a random offset so concurrent agents don't all race for the
  // lowest ports.
  uint32_t span = uint32_t{high_} - low_ + 1;
  uint32_t start = std::random_device{}() % span;
  for (uint32_t i = 0; i < span; ++i) {
    auto port = static_cast<uint16_t>(low_ + (start + i) % span);
    if (TryBind(acc, {bind_addr_, port}, ec)) return acc;
  }
  *refusal = {wire::v1::REFUSAL_CODE_LIMIT,
              absl::StrCat("no free port left in the range ", RangeString())};
  return acc;
}

}  // namespace reitunnel::server
