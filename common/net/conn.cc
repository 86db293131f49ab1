#include "common/net/conn.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <unistd.h>

#include <system_error>

#include "absl/strings/str_cat.h"
#include "asio/read.hpp"
#include "asio/use_awaitable.hpp"
#include "asio/write.hpp"
#include "asio/experimental/as_tuple.hpp"
#include "common/net/tls.h"

namespace reitunnel::net {
namespace {

class TlsErrorCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int) const override { return "TLS error"; }
};

[[noreturn]] void ThrowTls(const char* op) {
  static TlsErrorCategory category;
  throw std::system_error(std::error_code(1, category),
                          absl::StrCat("TLS ", op, " failed: ", TakeOpenSslError()));
}

}  // namespace

std::string PeerString(const tcp::socket& s) {
  asio::error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  if (ep.address().is_v6()) return absl::StrCat("[", ep.address().to_string(), "]:", ep.port());
  return absl::StrCat(ep.address().to_string(), ":", ep.port());
}

const std::string& Conn::peer() const {
  if (peer_.empty()) peer_ = PeerString(socket_);
  return peer_;
}

Conn::Conn(tcp::socket socket) : socket_(std::move(socket)) {
  asio::error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
}

Conn::Conn(tcp::socket socket, std::string peer) : socket_(std::move(socket)), peer_(std::move(peer)) {
  asio::error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
}

Conn::Conn(Adopt, tcp::socket socket, SSL* ssl, std::string peer)
    : socket_(std::move(socket)), ssl_(ssl), peer_(std::move(peer)) {}

std::shared_ptr<Conn> Conn::MoveTo(const asio::any_io_executor& ex) {
  asio::error_code ec;
  auto protocol = socket_.local_endpoint(ec).protocol();
  if (ec) throw std::system_error(ec);
  std::string peer = this->peer();
  int fd = socket_.release(ec);
  if (ec) throw std::system_error(ec);
  tcp::socket moved(ex);
  moved.assign(protocol, fd, ec);
  if (ec) {
    ::close(fd);
    throw std::system_error(ec);
  }
  SSL* ssl = ssl_;
  ssl_ = nullptr;
  return std::shared_ptr<Conn>(new Conn(Adopt{}, std::move(moved), ssl, std::move(peer)));
}

Conn::~Conn() {
  if (ssl_) SSL_free(ssl_);
}

asio::awaitable<void> Conn::TlsAccept(SSL_CTX* ctx) {
  ssl_ = SSL_new(ctx);
  if (!ssl_) ThrowTls("setup");
  co_await TlsHandshake(true);
}

asio::awaitable<void> Conn::TlsConnect(SSL_CTX* ctx, const std::string& server_name) {
  ssl_ = SSL_new(ctx);
  if (!ssl_) ThrowTls("setup");
  asio::error_code ec;
  asio::ip::make_address(server_name, ec);
  if (!ec) {
    // An IP literal is checked against the certificate's IP SANs and, per
    // RFC 6066, never sent as SNI.
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), server_name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, server_name.c_str());
    SSL_set1_host(ssl_, server_name.c_str());
  }
  co_await TlsHandshake(false);
}

asio::awaitable<void> Conn::TlsHandshake(bool server) {
  socket_.native_non_blocking(true);
  SSL_set_fd(ssl_, socket_.native_handle());
  if (server) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
  }
  for (;;) {
    ERR_clear_error();
    int ret = SSL_do_handshake(ssl_);
    if (ret == 1) break;
    co_await WaitForSsl(ret, "handshake");
  }
}

asio::awaitable<void> Conn::WaitForSsl(int ret, const char* op) {
  int err = SSL_get_error(ssl_, ret);
  if (err == SSL_ERROR_WANT_READ) {
    co_await socket_.async_wait(tcp::socket::wait_read, asio::use_awaitable);
  } else if (err == SSL_ERROR_WANT_WRITE) {
    co_await socket_.async_wait(tcp::socket::wait_write, asio::use_awaitable);
  } else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    throw std::system_error(asio::error::connection_reset);
  } else {
    ThrowTls(op);
  }
}

asio::awaitable<size_t> Conn::ReadSome(asio::mutable_buffer buf) {
  if (!ssl_) {
    auto [ec, n] = co_await socket_.async_read_some(
        buf, asio::experimental::as_tuple(asio::use_awaitable));
    if (ec == asio::error::eof) co_return 0;
    if (ec) throw std::system_error(ec);
    co_return n;
  }
  if (tls_read_eof_) co_return 0;
  for (;;) {
    ERR_clear_error();
    size_t n = 0;
    int ret = SSL_read_ex(ssl_, buf.data(), buf.size(), &n);
    if (ret == 1) co_return n;
    int err = SSL_get_error(ssl_, ret);
    if (err == SSL_ERROR_ZERO_RETURN) {  // peer's close_notify
      tls_read_eof_ = true;
      co_return 0;
    }
    // An unexpected TCP EOF without close_notify is treated as EOF too: the
    // relayed stream's own framing, not TLS, decides if data was truncated.
    if (err == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
      ERR_clear_error();
      tls_read_eof_ = true;
      co_return 0;
    }
    co_await WaitForSsl(ret, "read");
  }
}

asio::awaitable<void> Conn::ReadExactly(asio::mutable_buffer buf) {
  auto* p = static_cast<char*>(buf.data());
  size_t left = buf.size();
  while (left > 0) {
    size_t n = co_await ReadSome(asio::buffer(p, left));
    if (n == 0) throw std::system_error(asio::error::eof);
    p += n;
    left -= n;
  }
}

asio::awaitable<void> Conn::WriteAll(asio::const_buffer buf) {
  if (!ssl_) {
    co_await asio::async_write(socket_, buf, asio::use_awaitable);
    co_return;
  }
  auto* p = static_cast<const char*>(buf.data());
  size_t left = buf.size();
  while (left > 0) {
    ERR_clear_error();
    size_t n = 0;
    int ret = SSL_write_ex(ssl_, p, left, &n);
    if (ret == 1) {
      p += n;
      left -= n;
      continue;
    }
    co_await WaitForSsl(ret, "write");
  }
}

void Conn::ShutdownSend() {
  asio::error_code ec;
  if (ssl_) {
    // One SSL_shutdown sends close_notify and does not wait for the peer's,
    // which is exactly a half-close; the read side stays usable.
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
    return;
  }
  socket_.shutdown(tcp::socket::shutdown_send, ec);
}

void Conn::Close() {
  asio::error_code ec;
  socket_.close(ec);
}

}  // namespace reitunnel::net
