#include "common/net/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "asio/experimental/as_tuple.hpp"
#include "asio/use_awaitable.hpp"

namespace reitunnel::net {

using asio::ip::tcp;

std::string EndpointString(const tcp::endpoint& ep) {
  if (ep.address().is_v6()) return absl::StrCat("[", ep.address().to_string(), "]:", ep.port());
  return absl::StrCat(ep.address().to_string(), ":", ep.port());
}

asio::error_code ProbeListen(const tcp::endpoint& ep) {
  // Raw syscalls: an io_context just for a probe would cost more than the
  // probe itself.
  int fd = ::socket(ep.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return asio::error_code(errno, asio::error::get_system_category());
  int one = 1;
  // SO_REUSEADDR tolerates TIME_WAIT leftovers; any live listener, with or
  // without SO_REUSEPORT, still conflicts.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  asio::error_code ec;
  if (::bind(fd, ep.data(), static_cast<socklen_t>(ep.size())) != 0 || ::listen(fd, 1) != 0) {
    ec = asio::error_code(errno, asio::error::get_system_category());
  }
  ::close(fd);
  return ec;
}

absl::StatusOr<std::vector<tcp::acceptor>> ListenGroup(
    const tcp::endpoint& ep, const std::vector<asio::any_io_executor>& executors) {
  if (ep.port() != 0) {
    if (auto ec = ProbeListen(ep)) {
      return absl::Status(ec == asio::error::address_in_use ? absl::StatusCode::kAlreadyExists
                                                            : absl::StatusCode::kUnavailable,
                          ec.message());
    }
  }
  std::vector<tcp::acceptor> group;
  tcp::endpoint bind_ep = ep;
  for (const auto& ex : executors) {
    tcp::acceptor acc(ex);
    asio::error_code ec;
    acc.open(bind_ep.protocol(), ec);
    if (!ec) acc.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && executors.size() > 1) {
      int one = 1;
      if (::setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        ec = asio::error_code(errno, asio::error::get_system_category());
      }
    }
    if (!ec) acc.bind(bind_ep, ec);
    if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::Status(ec == asio::error::address_in_use ? absl::StatusCode::kAlreadyExists
                                                            : absl::StatusCode::kUnavailable,
                          ec.message());
    }
    // Port 0: the rest of the group joins the port the kernel picked.
    if (bind_ep.port() == 0) bind_ep = acc.local_endpoint();
    group.push_back(std::move(acc));
  }
  return group;
}

namespace {

std::string PeerOf(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    return absl::StrCat(buf, ":", ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    return absl::StrCat("[", buf, "]:", ntohs(a->sin6_port));
  }
  return "?";
}

}  // namespace

asio::awaitable<asio::error_code> AcceptBatch(tcp::acceptor& acceptor, tcp protocol,
                                              const AcceptedFn& accepted, int max_batch) {
  auto [ec] = co_await acceptor.async_wait(tcp::acceptor::wait_read,
                                           asio::experimental::as_tuple(asio::use_awaitable));
  if (ec) co_return ec;
  for (int i = 0; i < max_batch; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    int fd = ::accept4(acceptor.native_handle(), reinterpret_cast<sockaddr*>(&ss), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN) co_return asio::error_code();
      co_return asio::error_code(errno, asio::error::get_system_category());
    }
    tcp::socket s(acceptor.get_executor());
    s.assign(protocol, fd, ec);
    if (ec) {
      ::close(fd);
      continue;
    }
    accepted(std::move(s), PeerOf(ss));
  }
  co_return asio::error_code();
}

}  // namespace reitunnel::net
