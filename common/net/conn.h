#pragma once

// One agent-link connection: plain TCP, or TLS driven directly through
// OpenSSL on the non-blocking fd. All operations are awaitables that throw
// std::system_error on failure; EOF on a read returns 0 bytes.

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string>

#include "asio/awaitable.hpp"
#include "asio/buffer.hpp"
#include "asio/ip/tcp.hpp"
#include "common/transport/stream.h"

namespace reitunnel::net {

using asio::ip::tcp;

class Conn : public transport::Stream {
 public:
  explicit Conn(tcp::socket socket);
  // `peer` already known (from accept), so no getpeername() is needed.
  Conn(tcp::socket socket, std::string peer);
  ~Conn() override;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Runs the TLS handshake (server or client side). For clients,
  // `server_name` is sent as SNI and verified against the certificate.
  asio::awaitable<void> TlsAccept(SSL_CTX* ctx);
  asio::awaitable<void> TlsConnect(SSL_CTX* ctx, const std::string& server_name);

  // Reads at most buf.size() bytes; returns 0 on orderly EOF.
  asio::awaitable<size_t> ReadSome(asio::mutable_buffer buf) override;
  // Reads exactly buf.size() bytes; throws asio::error::eof on early EOF.
  asio::awaitable<void> ReadExactly(asio::mutable_buffer buf);
  asio::awaitable<void> WriteAll(asio::const_buffer buf) override;
  // Half-close: FIN for TCP, close_notify for TLS. Reads keep working.
  void ShutdownSend() override;
  void Close() override;
  bool is_open() const override { return socket_.is_open(); }

  bool is_tls() const { return ssl_ != nullptr; }
  // The TLS session after TlsAccept/TlsConnect (peer certificate), else null.
  SSL* ssl() const { return ssl_; }
  // Bytes already decrypted or read but not consumed; a splice relay must not
  // start while this is non-zero.
  bool has_buffered_input() const override { return ssl_ && SSL_pending(ssl_) > 0; }
  int splice_fd() const override {
    return ssl_ ? -1 : const_cast<tcp::socket&>(socket_).native_handle();
  }
  const char* kind() const override { return ssl_ ? "tls" : "tcp"; }
  asio::any_io_executor get_executor() override { return socket_.get_executor(); }
  tcp::socket& socket() { return socket_; }
  // Computed on first use: most data connections never need it.
  const std::string& peer() const override;

  // Hands the connection over to another executor (another worker's loop):
  // the fd and any TLS state move, this object is left closed. Nothing may
  // be pending on it. The result must only be used on `ex`.
  std::shared_ptr<Conn> MoveTo(const asio::any_io_executor& ex);

 private:
  asio::awaitable<void> TlsHandshake(bool server);
  // Waits for whatever OpenSSL asked for after `ret`; throws on hard errors.
  asio::awaitable<void> WaitForSsl(int ret, const char* op);

  struct Adopt {};
  Conn(Adopt, tcp::socket socket, SSL* ssl, std::string peer);

  tcp::socket socket_;
  SSL* ssl_ = nullptr;
  // Set once TLS reported end of stream: OpenSSL fails later reads of a
  // session that saw an unexpected EOF instead of repeating it.
  bool tls_read_eof_ = false;
  mutable std::string peer_;
};

// "ip:port" of a connected socket's peer, or "?" if it has none.
std::string PeerString(const tcp::socket& s);

}  // namespace reitunnel::net
