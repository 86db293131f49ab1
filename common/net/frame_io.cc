#include "common/net/frame_io.h"

#include "asio/buffer.hpp"
#include "common/net/spawn.h"
#include "common/wire/frame.h"

namespace reitunnel::net {

asio::awaitable<wire::v1::Frame> ReadFrame(Conn& conn) {
  wire::Header header;
  co_await conn.ReadExactly(asio::buffer(header));
  auto len = wire::ParseHeader(header);
  if (!len.ok()) throw ProtocolError(std::string(len.status().message()));
  std::string payload(*len, '\0');
  co_await conn.ReadExactly(asio::buffer(payload));
  auto frame = wire::ParsePayload(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
  if (!frame.ok()) throw ProtocolError(std::string(frame.status().message()));
  co_return std::move(*frame);
}

asio::awaitable<void> WriteFrame(Conn& conn, const wire::v1::Frame& frame) {
  auto bytes = wire::Encode(frame);
  if (!bytes.ok()) throw ProtocolError(std::string(bytes.status().message()));
  co_await conn.WriteAll(asio::buffer(*bytes));
}

void FrameWriter::Send(const wire::v1::Frame& frame) {
  auto bytes = wire::Encode(frame);
  if (!bytes.ok()) return;  // only our own oversized frames; never sent
  queued_bytes_ += bytes->size();
  queue_.push_back(std::move(*bytes));
  if (!writing_) {
    writing_ = true;
    Spawn(ex_, [self = shared_from_this()]() { return self->Drain(); }(), "frame_writer");
  }
}

void FrameWriter::CloseWhenDrained() {
  close_when_drained_ = true;
  if (!writing_) conn_->Close();
}

asio::awaitable<void> FrameWriter::Drain() {
  auto self = shared_from_this();
  try {
    while (!queue_.empty()) {
      std::string bytes = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= bytes.size();
      co_await conn_->WriteAll(asio::buffer(bytes));
    }
  } catch (...) {
    // The reader on this connection sees the failure too and ends the
    // session; just stop writing.
    queue_.clear();
    queued_bytes_ = 0;
    conn_->Close();
  }
  writing_ = false;
  if (close_when_drained_) conn_->Close();
}

}  // namespace reitunnel::net
