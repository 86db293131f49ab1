#pragma once

// Frames over a Conn: a reader that validates before allocating, and a writer
// that serializes concurrent senders onto one outstanding write.

#include <deque>
#include <memory>
#include <stdexcept>
#include <string>

#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "common/net/conn.h"
#include "reitunnel/wire/v1/wire.pb.h"

namespace reitunnel::net {

// A peer violated the protocol. what() is safe to log and to send back.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws ProtocolError for anything malformed, std::system_error for I/O.
asio::awaitable<wire::v1::Frame> ReadFrame(Conn& conn);
asio::awaitable<void> WriteFrame(Conn& conn, const wire::v1::Frame& frame);

// Queues frames and writes them in order, one write at a time, so that any
// coroutine on the connection's executor may send without awaiting.
class FrameWriter : public std::enable_shared_from_this<FrameWriter> {
 public:
  FrameWriter(asio::any_io_executor ex, std::shared_ptr<Conn> conn)
      : ex_(std::move(ex)), conn_(std::move(conn)) {}

  void Send(const wire::v1::Frame& frame);
  // Closes the connection once everything queued has been written.
  void CloseWhenDrained();
  // Bytes queued but not yet written; lets callers notice a stuck peer.
  size_t queued_bytes() const { return queued_bytes_; }

 private:
  asio::awaitable<void> Drain();

  asio::any_io_executor ex_;
  std::shared_ptr<Conn> conn_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool close_when_drained_ = false;
};

}  // namespace reitunnel::net
