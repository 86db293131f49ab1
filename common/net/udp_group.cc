#include "common/net/udp_group.h"

#include <sys/socket.h>

#include <cerrno>

#include "absl/status/status.h"

namespace reitunnel::net {

using asio::ip::udp;

namespace {

absl::Status ToStatus(const asio::error_code& ec) {
  return absl::Status(ec == asio::error::address_in_use ? absl::StatusCode::kAlreadyExists
                                                        : absl::StatusCode::kUnavailable,
                      ec.message());
}

}  // namespace

absl::StatusOr<std::vector<udp::socket>> UdpGroup(
    const udp::endpoint& ep, const std::vector<asio::any_io_executor>& executors) {
  if (executors.empty()) return absl::InvalidArgumentError("no executors");
  if (ep.port() != 0) {
    // Without SO_REUSEPORT: fails while anyone holds the port, including a
    // SO_REUSEPORT group of another process.
    udp::socket probe(executors.front());
    asio::error_code ec;
    probe.open(ep.protocol(), ec);
    if (!ec) probe.bind(ep, ec);
    if (ec) return ToStatus(ec);
  }
  std::vector<udp::socket> group;
  udp::endpoint bind_ep = ep;
  for (const auto& ex : executors) {
    udp::socket s(ex);
    asio::error_code ec;
    s.open(bind_ep.protocol(), ec);
    if (!ec && executors.size() > 1) {
      int one = 1;
      if (::setsockopt(s.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        ec = asio::error_code(errno, asio::error::get_system_category());
      }
    }
    if (!ec) s.bind(bind_ep, ec);
    // Replies are sent without waiting: a full socket buffer drops them
    // (counted), as the network would.
    if (!ec) s.non_blocking(true, ec);
    if (ec) return ToStatus(ec);
    if (bind_ep.port() == 0) bind_ep = s.local_endpoint();
    group.push_back(std::move(s));
  }
  return group;
}

}  // namespace reitunnel::net
