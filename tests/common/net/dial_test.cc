// Dial (dial.h): the real cause of a failure, as soon as it is known.

#include "common/net/dial.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <system_error>
#include <vector>

#include "asio/io_context.hpp"
#include "gtest/gtest.h"
#include "tests/common/net/net_test_util.h"

namespace reitunnel::net {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A raw IPv4 socket on 127.0.0.1, bound to a kernel-picked port.
class RawSocket {
 public:
  RawSocket() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    socklen_t len = sizeof(a);
    ok_ = ok_ && ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    port_ = ntohs(a.sin_port);
  }
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  uint16_t port() const { return port_; }
  bool Listen(int backlog) { return ::listen(fd_, backlog) == 0; }

 private:
  int fd_;
  bool ok_ = false;
  uint16_t port_ = 0;
};

// Runs Dial; returns the error code (none on success) and how long it took.
std::pair<asio::error_code, Clock::duration> TryDial(asio::io_context& io, const std::string& host,
                                                     uint16_t port,
                                                     std::chrono::milliseconds timeout,
                                                     std::vector<asio::ip::tcp::socket>* keep) {
  asio::error_code ec;
  auto start = Clock::now();
  testing::RunOn(io, [&]() -> asio::awaitable<void> {
    try {
      asio::ip::tcp::socket s = co_await Dial(host, port, timeout);
      if (keep) keep->push_back(std::move(s));
    } catch (const std::system_error& e) {
      ec = e.code();
    }
  });
  return {ec, Clock::now() - start};
}

TEST(DialTest, ConnectsToAnIpAndAName) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  const uint16_t port = acceptor.local_endpoint().port();
  std::vector<asio::ip::tcp::socket> sockets;
  EXPECT_FALSE(TryDial(io, "127.0.0.1", port, 5s, &sockets).first);
  // The resolver path; "localhost" may list ::1 first, which refuses.
  EXPECT_FALSE(TryDial(io, "localhost", port, 5s, &sockets).first);
  ASSERT_EQ(sockets.size(), 2u);
  for (auto& s : sockets) EXPECT_EQ(s.remote_endpoint().port(), port);
}

TEST(DialTest, RefusedIsReportedAtOnce) {
  asio::io_context io;
  RawSocket bound;  // bound, not listening: nobody takes the port meanwhile
  ASSERT_TRUE(bound.ok());
  auto [ec, took] = TryDial(io, "127.0.0.1", bound.port(), 30s, nullptr);
  EXPECT_EQ(ec, asio::error::connection_refused) << ec.message();
  EXPECT_LT(took, 5s);
}

TEST(DialTest, TimeoutIsReportedAsTimedOut) {
  asio::io_context io;
  // A listener that never accepts, with a backlog of 0: once its queue is
  // full the kernel drops further SYNs and the connect just hangs.
  RawSocket listener;
  ASSERT_TRUE(listener.ok());
  ASSERT_TRUE(listener.Listen(0));
  std::vector<asio::ip::tcp::socket> queued;
  asio::error_code ec;
  Clock::duration took{};
  for (int i = 0; i < 16 && !ec; ++i) {
    std::tie(ec, took) = TryDial(io, "127.0.0.1", listener.port(), 300ms, &queued);
  }
  EXPECT_EQ(ec, asio::error::timed_out) << ec.message();
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 10s);
  EXPECT_LE(queued.size(), 4u);  // the queue filled after a few
}

}  // namespace
}  // namespace reitunnel::net
