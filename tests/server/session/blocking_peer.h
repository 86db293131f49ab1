#pragma once

// A blocking TCP endpoint on raw syscalls for tests that drive workers from
// the test thread: every read has a timeout (SO_RCVTIMEO), so a test that
// goes wrong fails instead of hanging.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <utility>

namespace reitunnel::server::testing {

class BlockingPeer {
 public:
  BlockingPeer() = default;
  explicit BlockingPeer(int fd) : fd_(fd) { SetTimeout(); }
  ~BlockingPeer() { Close(); }
  BlockingPeer(BlockingPeer&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  BlockingPeer& operator=(BlockingPeer&& o) noexcept {
    if (this != &o) {
      Close();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }

  static BlockingPeer Connect(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = Loopback(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      ::close(fd);
      return BlockingPeer();
    }
    return BlockingPeer(fd);
  }

  // A connected pair: `*accepted_fd` is the raw fd of the accepted side
  // (for the code under test to adopt), the returned peer its other end.
  static BlockingPeer Pair(int* accepted_fd) {
    *accepted_fd = -1;
    int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = Loopback(0);
    socklen_t len = sizeof(a);
    if (::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(lfd, 1) != 0 ||
        ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ::close(lfd);
      return BlockingPeer();
    }
    BlockingPeer peer = Connect(ntohs(a.sin_port));
    if (peer.ok()) *accepted_fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    ::close(lfd);
    return peer;
  }

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // "127.0.0.1:port" of this end.
  std::string LocalAddr() const {
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    return "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  }

  bool SendAll(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Exactly n bytes; fewer when the peer ended (or the timeout passed).
  std::string Recv(size_t n) {
    std::string out;
    char buf[16384];
    while (out.size() < n) {
      ssize_t got = ::recv(fd_, buf, std::min(sizeof(buf), n - out.size()), 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      out.append(buf, static_cast<size_t>(got));
    }
    return out;
  }

  // Everything up to EOF. *how: "eof", "reset" or "timeout".
  std::string RecvToEnd(std::string* how = nullptr) {
    std::string out;
    char buf[16384];
    for (;;) {
      ssize_t got = ::recv(fd_, buf, sizeof(buf), 0);
      if (got < 0 && errno == EINTR) continue;
      if (got > 0) {
        out.append(buf, static_cast<size_t>(got));
        continue;
      }
      if (how) {
        *how = got == 0                                 ? "eof"
               : errno == ECONNRESET                    ? "reset"
               : (errno == EAGAIN || errno == EWOULDBLOCK) ? "timeout"
                                                        : "error";
      }
      return out;
    }
  }

  void ShutdownSend() { ::shutdown(fd_, SHUT_WR); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  static sockaddr_in Loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return a;
  }
  void SetTimeout() {
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }

  int fd_ = -1;
};

}  // namespace reitunnel::server::testing
