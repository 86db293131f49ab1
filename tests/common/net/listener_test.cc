// Listener groups (listener.h): one SO_REUSEPORT socket per worker, but
// never a port someone else holds, even with SO_REUSEPORT of their own.

#include "common/net/listener.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "asio/io_context.hpp"
#include "asio/post.hpp"
#include "asio/write.hpp"
#include "gtest/gtest.h"
#include "tests/common/net/net_test_util.h"

namespace reitunnel::net {
namespace {

using asio::ip::tcp;

const asio::ip::address kLoopback = asio::ip::make_address("127.0.0.1");

// A listener made with raw syscalls, as another process would hold a port.
class ForeignListener {
 public:
  explicit ForeignListener(bool reuseport) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport) ::setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 && ::listen(fd_, 16) == 0 &&
          ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    port_ = ntohs(a.sin_port);
  }
  ~ForeignListener() { ::close(fd_); }
  bool ok() const { return ok_; }
  uint16_t port() const { return port_; }

 private:
  int fd_;
  bool ok_ = false;
  uint16_t port_ = 0;
};

TEST(ListenGroupTest, OneAcceptorPerExecutorOnOnePort) {
  asio::io_context a, b;
  auto group = ListenGroup({kLoopback, 0}, {a.get_executor(), b.get_executor()});
  ASSERT_TRUE(group.ok()) << group.status();
  ASSERT_EQ(group->size(), 2u);
  const uint16_t port = (*group)[0].local_endpoint().port();
  EXPECT_NE(port, 0);
  EXPECT_EQ((*group)[1].local_endpoint().port(), port);
  EXPECT_TRUE((*group)[0].get_executor() == asio::any_io_executor(a.get_executor()));
  EXPECT_TRUE((*group)[1].get_executor() == asio::any_io_executor(b.get_executor()));
  // Connections land on the group's sockets, and only there.
  asio::io_context io;
  std::vector<tcp::socket> clients;
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back(io);
    clients.back().connect({kLoopback, port});
  }
  int accepted = 0;
  for (auto& acc : *group) acc.non_blocking(true);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (accepted < 16 && std::chrono::steady_clock::now() < deadline) {
    for (auto& acc : *group) {
      asio::error_code ec;
      tcp::socket s = acc.accept(ec);
      if (!ec) ++accepted;
    }
  }
  EXPECT_EQ(accepted, 16);
}

TEST(ListenGroupTest, PortHeldByAPlainListenerIsRefused) {
  asio::io_context io;
  tcp::acceptor held(io, {kLoopback, 0});
  const tcp::endpoint ep{kLoopback, held.local_endpoint().port()};
  EXPECT_EQ(ProbeListen(ep), asio::error::address_in_use);
  auto group = ListenGroup(ep, {io.get_executor(), io.get_executor()});
  EXPECT_EQ(group.status().code(), absl::StatusCode::kAlreadyExists) << group.status();
  auto single = ListenGroup(ep, {io.get_executor()});
  EXPECT_EQ(single.status().code(), absl::StatusCode::kAlreadyExists) << single.status();
}

// SO_REUSEPORT on both sides would let the kernel share the port between
// two processes of one user, splitting visitors between them: the probe
// (without SO_REUSEPORT) refuses it.
TEST(ListenGroupTest, PortHeldByAnotherReuseportListenerIsRefused) {
  ForeignListener other(/*reuseport=*/true);
  ASSERT_TRUE(other.ok());
  asio::io_context io;
  const tcp::endpoint ep{kLoopback, other.port()};
  EXPECT_EQ(ProbeListen(ep), asio::error::address_in_use);
  auto group = ListenGroup(ep, {io.get_executor(), io.get_executor()});
  EXPECT_EQ(group.status().code(), absl::StatusCode::kAlreadyExists) << group.status();
}

TEST(ListenGroupTest, PortIsFreeAgainOnceTheGroupIsClosed) {
  asio::io_context io;
  tcp::endpoint ep;
  {
    auto group = ListenGroup({kLoopback, 0}, {io.get_executor(), io.get_executor()});
    ASSERT_TRUE(group.ok());
    ep = (*group)[0].local_endpoint();
    EXPECT_EQ(ProbeListen(ep), asio::error::address_in_use);
  }
  EXPECT_FALSE(ProbeListen(ep));
  auto again = ListenGroup(ep, {io.get_executor(), io.get_executor()});
  EXPECT_TRUE(again.ok()) << again.status();
}

// A connection of an old listener lingering in TIME_WAIT does not hold the
// port (a restarted server gets its port back at once).
TEST(ListenGroupTest, TimeWaitDoesNotHoldThePort) {
  asio::io_context io;
  tcp::endpoint ep;
  {
    tcp::acceptor acc(io, {kLoopback, 0});
    ep = acc.local_endpoint();
    tcp::socket client(io);
    client.connect(ep);
    tcp::socket served = acc.accept();
    served.close();  // the server side closes first: it goes to TIME_WAIT
    char c;
    asio::error_code ec;
    client.read_some(asio::buffer(&c, 1), ec);
    EXPECT_EQ(ec, asio::error::eof);
  }
  EXPECT_FALSE(ProbeListen(ep));
  auto group = ListenGroup(ep, {io.get_executor()});
  EXPECT_TRUE(group.ok()) << group.status();
}

TEST(EndpointStringTest, BracketsIpv6) {
  EXPECT_EQ(EndpointString({kLoopback, 80}), "127.0.0.1:80");
  EXPECT_EQ(EndpointString({asio::ip::make_address("::1"), 443}), "[::1]:443");
}

TEST(AcceptBatchTest, AcceptsEveryPendingConnectionWithItsPeer) {
  asio::io_context io;
  tcp::acceptor acc(io, {kLoopback, 0});
  const auto ep = acc.local_endpoint();
  std::vector<tcp::socket> clients;
  std::set<std::string> expected;
  for (int i = 0; i < 5; ++i) {
    clients.emplace_back(io);
    clients.back().connect(ep);
    expected.insert(EndpointString(clients.back().local_endpoint()));
  }
  std::set<std::string> peers;
  std::vector<tcp::socket> accepted;
  const AcceptedFn on_accept = [&](tcp::socket s, std::string peer) {
    EXPECT_TRUE(s.is_open());
    peers.insert(std::move(peer));
    accepted.push_back(std::move(s));
  };
  // At most 2 per batch: 2, 2, 1.
  std::vector<size_t> batches;
  testing::RunOn(io, [&]() -> asio::awaitable<void> {
    while (accepted.size() < 5) {
      size_t before = accepted.size();
      asio::error_code ec = co_await AcceptBatch(acc, tcp::v4(), on_accept, 2);
      EXPECT_FALSE(ec) << ec.message();
      batches.push_back(accepted.size() - before);
    }
  });
  EXPECT_EQ(peers, expected);
  EXPECT_EQ(batches, (std::vector<size_t>{2, 2, 1}));
  // The accepted sockets are connected to the clients.
  const std::string ping = "x";
  asio::write(clients[0], asio::buffer(ping));
  bool found = false;
  for (auto& s : accepted) {
    if (s.remote_endpoint() == clients[0].local_endpoint()) {
      char c = 0;
      s.non_blocking(false);
      s.read_some(asio::buffer(&c, 1));
      found = c == 'x';
    }
  }
  EXPECT_TRUE(found);
}

TEST(AcceptBatchTest, ClosingTheAcceptorEndsTheWait) {
  asio::io_context io;
  tcp::acceptor acc(io, {kLoopback, 0});
  asio::error_code result;
  const AcceptedFn on_accept = [&](tcp::socket, std::string) { ADD_FAILURE(); };
  testing::RunOn(io, [&]() -> asio::awaitable<void> {
    // Runs once AcceptBatch waits.
    asio::post(io, [&] { acc.close(); });
    result = co_await AcceptBatch(acc, tcp::v4(), on_accept);
  });
  EXPECT_EQ(result, asio::error::operation_aborted);
}

}  // namespace
}  // namespace reitunnel::net
