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

// Pipes are recycled (per thread: the relay runs on one io thread) so a new
// visitor costs no pipe2()/close(), and an idle visitor holds none: a pipe
// is only taken for a burst and returned once drained.
class PipePool {
 public:
  std::unique_ptr<Pipe> Take() {
    if (free_.empty()) return std::make_unique<Pipe>();
    auto p = std::move(free_.back());
    free_.pop_back();
    return p;
  }
  void Give(std::unique_ptr<Pipe> p) {
    if (free_.size() < kMaxFree) free_.push_back(std::move(p));
  }

 private:
  static constexpr size_t kMaxFree = 256;
  std::vector<std::unique_ptr<Pipe>> free_;
};

thread_local PipePool pipe_pool;

constexpr size_t kSpliceChunk = 1 << 20;
// Linux's default pipe capacity: a splice that filled it probably left more.
constexpr size_t kPipeCapacity = 64 * 1024;
constexpr size_t kCopyBuffer = 16 * 1024;

asio::awaitable<void> SpliceTransfer(Conn& from, Conn& to, uint64_t* counter,
                                     uint64_t* events) {
  tcp::socket& in = from.socket();
  tcp::socket& out = to.socket();
  std::unique_ptr<Pipe> pipe;
  // Return the pipe on every exit; it is empty whenever we get here except
  // on errors, where it is simply closed.
  struct Return {
    std::unique_ptr<Pipe>& p;
    bool clean = false;
    ~Return() {
      if (p && clean) pipe_pool.Give(std::move(p));
    }
  } give_back{pipe};
  // Splice first on a fresh relay (the request is usually already queued),
  // but after a short read the socket is most likely empty: wait instead of
  // paying for a splice that fails with EAGAIN.
  bool wait_first = false;
  for (;;) {
    if (wait_first) {
      if (pipe) pipe_pool.Give(std::move(pipe));
      co_await in.async_wait(tcp::socket::wait_read, asio::use_awaitable);
      wait_first = false;
    }
    if (!pipe) pipe = pipe_pool.Take();
    ssize_t n = ::splice(in.native_handle(), nullptr, pipe->w, nullptr, kSpliceChunk,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        throw std::system_error(errno, std::system_category(), "splice from socket");
      }
      // Idle: hand the (empty) pipe back while waiting.
      pipe_pool.Give(std::move(pipe));
      co_await in.async_wait(tcp::socket::wait_read, asio::use_awaitable);
      continue;
    }
    ++*events;
    wait_first = static_cast<size_t>(n) < kPipeCapacity;
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
  give_back.clean = true;
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
