#include "common/net/frame_io.h"

#include <cstring>

#include "asio/buffer.hpp"
#include "asio/experimental/as_tuple.hpp"
#include "asio/use_awaitable.hpp"
#include "common/net/spawn.h"
#include "common/wire/frame.h"

namespace reitunnel::net {
namespace {

asio::awaitable<void> ReadExactly(transport::Stream& s, char* p, size_t n) {
  while (n > 0) {
    size_t got = co_await s.ReadSome(asio::buffer(p, n));
    if (got == 0) throw std::system_error(asio::error::eof);
    p += got;
    n -= got;
  }
}

wire::v1::Frame Parse(const char* header, const char* payload, uint32_t len) {
  auto frame = wire::ParsePayload(reinterpret_cast<const uint8_t*>(payload), len);
  if (!frame.ok()) throw ProtocolError(std::string(frame.status().message()));
  (void)header;
  return std::move(*frame);
}

uint32_t CheckHeader(const char* p) {
  wire::Header header;
  std::memcpy(header.data(), p, header.size());
  auto len = wire::ParseHeader(header);
  if (!len.ok()) throw ProtocolError(std::string(len.status().message()));
  return *len;
}

}  // namespace

asio::awaitable<wire::v1::Frame> ReadFrame(transport::Stream& s) {
  if (auto* b = dynamic_cast<BufferedStream*>(&s)) co_return co_await ReadFrame(*b);
  char header[wire::kHeaderSize];
  co_await ReadExactly(s, header, sizeof(header));
  uint32_t len = CheckHeader(header);
  std::string payload(len, '\0');
  co_await ReadExactly(s, payload.data(), len);
  co_return Parse(header, payload.data(), len);
}

asio::awaitable<wire::v1::Frame> ReadFrame(BufferedStream& s) {
  if (co_await s.Fill(wire::kHeaderSize) < wire::kHeaderSize) {
    throw std::system_error(asio::error::eof);
  }
  uint32_t len = CheckHeader(s.data());
  if (co_await s.Fill(wire::kHeaderSize + len) < wire::kHeaderSize + len) {
    throw std::system_error(asio::error::eof);
  }
  wire::v1::Frame f = Parse(s.data(), s.data() + wire::kHeaderSize, len);
  s.Consume(wire::kHeaderSize + len);
  co_return f;
}

asio::awaitable<void> WriteFrame(transport::Stream& s, const wire::v1::Frame& frame) {
  auto bytes = wire::Encode(frame);
  if (!bytes.ok()) throw ProtocolError(std::string(bytes.status().message()));
  co_await s.WriteAll(asio::buffer(*bytes));
}

FrameWriter::FrameWriter(asio::any_io_executor ex, std::shared_ptr<transport::Stream> stream,
                         size_t max_queued_bytes)
    : ex_(ex), stream_(std::move(stream)), max_queued_bytes_(max_queued_bytes), drained_(ex) {}

bool FrameWriter::Send(const wire::v1::Frame& frame) {
  if (failed_) return false;
  auto bytes = wire::Encode(frame);
  if (!bytes.ok()) return false;  // only our own oversized frames; never sent
  if (queued_bytes_ + bytes->size() > max_queued_bytes_) {
    // The peer is not reading what we send (e.g. pings whose pongs pile
    // up). Keeping it would only grow memory.
    overflowed_ = true;
    failed_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    drained_.cancel();
    stream_->Close();
    return false;
  }
  queued_bytes_ += bytes->size();
  queue_.push_back(std::move(*bytes));
  if (!writing_) {
    writing_ = true;
    Spawn(ex_, [self = shared_from_this()]() { return self->Drain(); }(), "frame_writer");
  }
  return true;
}

void FrameWriter::CloseWhenDrained() {
  close_when_drained_ = true;
  if (!writing_) stream_->Close();
}

asio::awaitable<void> FrameWriter::WaitBelow(size_t low_water) {
  auto self = shared_from_this();
  while (!failed_ && queued_bytes_ >= low_water) {
    drained_.expires_at(asio::steady_timer::time_point::max());
    co_await drained_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> FrameWriter::Drain() {
  auto self = shared_from_this();
  try {
    while (!queue_.empty()) {
      // Coalesce what is queued into one write.
      std::string bytes = std::move(queue_.front());
      queue_.pop_front();
      while (!queue_.empty() && bytes.size() < 16384) {
        bytes += queue_.front();
        queue_.pop_front();
      }
      co_await stream_->WriteAll(asio::buffer(bytes));
      queued_bytes_ -= std::min(queued_bytes_, bytes.size());
      drained_.cancel();
    }
  } catch (...) {
    // The reader on this stream sees the failure too and ends the session;
    // just stop writing.
    failed_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    drained_.cancel();
    stream_->Close();
  }
  writing_ = false;
  if (close_when_drained_) stream_->Close();
}

}  // namespace reitunnel::net
