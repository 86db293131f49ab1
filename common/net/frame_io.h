#pragma once

// Frames over a Stream: a reader that validates before allocating, and a
// writer that serializes concurrent senders onto one outstanding write with
// a bounded queue.

#include <cstddef>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>

#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "asio/steady_timer.hpp"
#include "common/net/buffered_stream.h"
#include "common/transport/stream.h"
#include "reitunnel/wire/v1/wire.pb.h"

namespace reitunnel::net {

// A peer violated the protocol. what() is safe to log and to send back.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws ProtocolError for anything malformed, std::system_error for I/O
// (asio::error::eof when the peer closed before a whole frame).
asio::awaitable<wire::v1::Frame> ReadFrame(transport::Stream& s);
// One read() per frame in the common case; extra bytes stay buffered.
asio::awaitable<wire::v1::Frame> ReadFrame(BufferedStream& s);
asio::awaitable<void> WriteFrame(transport::Stream& s, const wire::v1::Frame& frame);

// Queues frames and writes them in order, one write at a time, so any
// coroutine on the stream's executor may send without awaiting. The queue is
// bounded: a peer that stops reading cannot make us buffer without limit.
class FrameWriter : public std::enable_shared_from_this<FrameWriter> {
 public:
  // Past this many queued bytes Send() refuses and the connection is
  // closed: the peer has stopped reading (counted by the caller through
  // overflowed()).
  static constexpr size_t kDefaultMaxQueuedBytes = 1 << 20;

  FrameWriter(asio::any_io_executor ex, std::shared_ptr<transport::Stream> stream,
              size_t max_queued_bytes = kDefaultMaxQueuedBytes);

  // False when the frame was not queued (queue full: the stream is closed;
  // or the writer already failed).
  bool Send(const wire::v1::Frame& frame);
  // Closes the stream once everything queued has been written.
  void CloseWhenDrained();
  size_t queued_bytes() const { return queued_bytes_; }
  bool overflowed() const { return overflowed_; }
  // Backpressure for readers: returns once fewer than `low_water` bytes are
  // queued (or the writer failed).
  asio::awaitable<void> WaitBelow(size_t low_water);

 private:
  asio::awaitable<void> Drain();

  asio::any_io_executor ex_;
  std::shared_ptr<transport::Stream> stream_;
  size_t max_queued_bytes_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  asio::steady_timer drained_;  // cancelled whenever the queue shrinks
  bool writing_ = false;
  bool failed_ = false;
  bool overflowed_ = false;
  bool close_when_drained_ = false;
};

}  // namespace reitunnel::net
