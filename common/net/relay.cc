#include "common/net/relay.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <system_error>
#include <vector>

#include "asio/experimental/awaitable_operators.hpp"
#include "asio/use_awaitable.hpp"

namespace reitunnel::net {
namespace {

using namespace asio::experimental::awaitable_operators;

struct Pipe {
  int r = -1;
  int w = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
      throw std::system_error(errno, std::system_category(), "pipe2");
    }
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    ::close(r);
    ::close(w);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
};

constexpr size_t kSpliceChunk = 1 << 20;
constexpr size_t kCopyBuffer = 16 * 1024;

asio::awaitable<void> SpliceTransfer(Conn& from, Conn& to, uint64_t* counter,
                                     uint64_t* events) {
  tcp::socket& in = from.socket();
  tcp::socket& out = to.socket();
  // Created on first data so idle relays cost no pipe fds.
  std::unique_ptr<Pipe> pipe;
  for (;;) {
    co_await in.async_wait(tcp::socket::wait_read, asio::use_awaitable);
    if (!pipe) pipe = std::make_unique<Pipe>();
    ssize_t n = ::splice(in.native_handle(), nullptr, pipe->w, nullptr, kSpliceChunk,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      throw std::system_error(errno, std::system_category(), "splice from socket");
    }
    ++*events;
    size_t pending = static_cast<size_t>(n);
    while (pending > 0) {
      ssize_t m = ::splice(pipe->r, nullptr, out.native_handle(), nullptr, pending,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (m < 0) {
        if (errno == EAGAIN) {
          co_await out.async_wait(tcp::socket::wait_write, asio::use_awaitable);
          continue;
        }
        if (errno == EINTR) continue;
        throw std::system_error(errno, std::system_category(), "splice to socket");
      }
      pending -= static_cast<size_t>(m);
      *counter += static_cast<uint64_t>(m);
    }
  }
  to.ShutdownSend();
}

asio::awaitable<void> CopyTransfer(Conn& from, Conn& to, uint64_t* counter, uint64_t* events) {
  std::vector<char> buf(kCopyBuffer);
  for (;;) {
    size_t n = co_await from.ReadSome(asio::buffer(buf));
    if (n == 0) break;
    ++*events;
    co_await to.WriteAll(asio::buffer(buf.data(), n));
    *counter += n;
  }
  to.ShutdownSend();
}

asio::awaitable<void> Transfer(Conn& from, Conn& to, uint64_t* counter, uint64_t* events) {
  if (!from.is_tls() && !to.is_tls()) {
    co_await SpliceTransfer(from, to, counter, events);
  } else {
    co_await CopyTransfer(from, to, counter, events);
  }
}

}  // namespace

asio::awaitable<void> Relay(Conn& a, Conn& b, RelayCounters* counters) {
  for (Conn* c : {&a, &b}) {
    if (!c->is_tls()) c->socket().native_non_blocking(true);
  }
  try {
    // `&&` cancels the other direction if one fails, so a reset on either
    // side tears the pair down promptly.
    co_await (Transfer(a, b, &counters->a_to_b, &counters->a_to_b_events) &&
              Transfer(b, a, &counters->b_to_a, &counters->b_to_a_events));
  } catch (...) {
    a.Close();
    b.Close();
    throw;
  }
  a.Close();
  b.Close();
}

}  // namespace reitunnel::net
