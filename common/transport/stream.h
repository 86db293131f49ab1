#pragma once

// The transport seam: one byte stream of the agent link, whatever carries it
// (plain TCP, TLS, WebSocket, WebSocket through an HTTP proxy, ...).
// Transports stack: a WebSocket stream wraps a TLS or TCP stream.
//
// Threading: a Stream belongs to the executor it was created on; every call
// happens on that executor's thread. At most one read and one write may be
// outstanding at a time.
//
// Errors: operations throw std::system_error; an orderly end of the peer's
// sending direction is a ReadSome() returning 0.

#include <cstddef>
#include <memory>
#include <string>

#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "asio/buffer.hpp"

namespace reitunnel::transport {

class Stream {
 public:
  virtual ~Stream() = default;

  // Reads at most buf.size() bytes; returns 0 on orderly EOF.
  virtual asio::awaitable<size_t> ReadSome(asio::mutable_buffer buf) = 0;
  // Writes all of buf.
  virtual asio::awaitable<void> WriteAll(asio::const_buffer buf) = 0;
  // Ends our sending direction (TCP FIN, TLS close_notify, WebSocket close
  // frame); reads keep working where the transport allows it.
  virtual void ShutdownSend() = 0;
  // Closes at once; pending operations fail.
  virtual void Close() = 0;
  virtual bool is_open() const = 0;

  // "ip:port" of the peer at the lowest layer ("?" when unknown).
  virtual const std::string& peer() const = 0;
  // Short transport name for logs and metrics: "tcp", "tls", "ws", "wss".
  virtual const char* kind() const = 0;
  virtual asio::any_io_executor get_executor() = 0;

  // The socket's fd when bytes may be moved with splice(2) directly (plain
  // TCP with nothing buffered above the socket); -1 otherwise.
  virtual int splice_fd() const { return -1; }
  // Bytes already read from the socket (decrypted, unframed) but not yet
  // returned by ReadSome. A splice relay must not start while this is true.
  virtual bool has_buffered_input() const { return false; }
};

}  // namespace reitunnel::transport
