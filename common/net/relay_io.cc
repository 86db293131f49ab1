#include "common/net/relay_io.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <system_error>

#include "asio/use_awaitable.hpp"

namespace reitunnel::net::relay_io {
namespace {

template <typename T, size_t kMaxFree>
class FreeList {
 public:
  std::unique_ptr<T> Take() {
    if (free_.empty()) return std::make_unique<T>();
    auto p = std::move(free_.back());
    free_.pop_back();
    return p;
  }
  void Give(std::unique_ptr<T> p) {
    if (p && free_.size() < kMaxFree) free_.push_back(std::move(p));
  }

 private:
  std::vector<std::unique_ptr<T>> free_;
};

// Pipes of this process grown to kPipeTarget (all threads).
std::atomic<int> big_pipes{0};

// Per thread: each relay runs on one worker's thread.
thread_local FreeList<Pipe, 256> pipes;
thread_local FreeList<Block, 64> blocks;

[[noreturn]] void ThrowErrno(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

}  // namespace

Pipe::Pipe() {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) ThrowErrno("pipe2");
  r = fds[0];
  w = fds[1];
  // Bigger than the default 64 KiB, so one splice (and one chunk header on
  // a framed link) moves up to kPipeTarget. The kernel allocates pipe pages
  // only while they hold data, but charges the capacity to the user's pipe
  // quota (fs.pipe-user-pages-soft, 64 MiB by default for non-root): past it
  // every new pipe of that user shrinks to two pages. So only the first
  // kMaxBigPipes pipes of the process grow (the hot ones: pipes are
  // recycled), the rest keep the default. Best effort: a refusal (quota,
  // fs.pipe-max-size) keeps the default too.
  if (big_pipes.fetch_add(1, std::memory_order_relaxed) < kMaxBigPipes &&
      ::fcntl(w, F_SETPIPE_SZ, static_cast<int>(kPipeTarget)) >= 0) {
    big = true;
  } else {
    big_pipes.fetch_sub(1, std::memory_order_relaxed);
  }
}

Pipe::~Pipe() {
  if (big) big_pipes.fetch_sub(1, std::memory_order_relaxed);
  ::close(r);
  ::close(w);
}

std::unique_ptr<Pipe> TakePipe() { return pipes.Take(); }
void GivePipe(std::unique_ptr<Pipe> p) { pipes.Give(std::move(p)); }
std::unique_ptr<Block> TakeBlock() { return blocks.Take(); }
void GiveBlock(std::unique_ptr<Block> b) { blocks.Give(std::move(b)); }

asio::awaitable<void> WaitRead(asio::ip::tcp::socket& s) {
  co_await s.async_wait(asio::ip::tcp::socket::wait_read, asio::use_awaitable);
}

asio::awaitable<void> WaitWrite(asio::ip::tcp::socket& s) {
  co_await s.async_wait(asio::ip::tcp::socket::wait_write, asio::use_awaitable);
}

asio::awaitable<void> WriteAll(asio::ip::tcp::socket& s, const char* p, size_t len, bool more) {
  int flags = MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0);
  while (len > 0) {
    ssize_t n = ::send(s.native_handle(), p, len, flags);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        co_await WaitWrite(s);
        continue;
      }
      ThrowErrno("send");
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
}

asio::awaitable<void> DrainPipe(Pipe& pipe, asio::ip::tcp::socket& out, size_t len) {
  while (len > 0) {
    ssize_t m = ::splice(pipe.r, nullptr, out.native_handle(), nullptr, len,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (m < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        co_await WaitWrite(out);
        continue;
      }
      ThrowErrno("splice to socket");
    }
    len -= static_cast<size_t>(m);
  }
}

ssize_t TryRecv(asio::ip::tcp::socket& s, char* p, size_t len) {
  for (;;) {
    ssize_t n = ::recv(s.native_handle(), p, len, MSG_DONTWAIT);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return -1;
    ThrowErrno("recv");
  }
}

ssize_t TrySpliceIn(asio::ip::tcp::socket& s, Pipe& pipe, size_t len) {
  for (;;) {
    ssize_t n = ::splice(s.native_handle(), nullptr, pipe.w, nullptr, len,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return -1;
    ThrowErrno("splice from socket");
  }
}

void Abort(asio::ip::tcp::socket& s) {
  if (!s.is_open()) return;
  asio::error_code ec;
  s.set_option(asio::socket_base::linger(true, 0), ec);
  s.close(ec);
}

}  // namespace reitunnel::net::relay_io
