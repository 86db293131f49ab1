#pragma once

// A Stream with a read-ahead buffer and push-back. Frames are read with one
// read() instead of two (header, then payload), and bytes read past the end
// of a relayed stream (the next StartRelay on a reused data connection) are
// kept for the next reader. While bytes are buffered, splice_fd() is -1 so a
// splice relay cannot skip them.

#include <memory>
#include <string>

#include "common/transport/stream.h"

namespace reitunnel::net {

class BufferedStream final : public transport::Stream {
 public:
  explicit BufferedStream(std::shared_ptr<transport::Stream> inner) : inner_(std::move(inner)) {}

  asio::awaitable<size_t> ReadSome(asio::mutable_buffer buf) override;
  asio::awaitable<void> WriteAll(asio::const_buffer buf) override { return inner_->WriteAll(buf); }
  void ShutdownSend() override { inner_->ShutdownSend(); }
  void Close() override { inner_->Close(); }
  bool is_open() const override { return inner_->is_open(); }
  const std::string& peer() const override { return inner_->peer(); }
  const char* kind() const override { return inner_->kind(); }
  asio::any_io_executor get_executor() override { return inner_->get_executor(); }
  int splice_fd() const override { return buffered() ? -1 : inner_->splice_fd(); }
  bool has_buffered_input() const override { return buffered() || inner_->has_buffered_input(); }

  // Reads at least `min` bytes ahead (more if they are already there) unless
  // EOF comes first; returns how many bytes are buffered.
  asio::awaitable<size_t> Fill(size_t min);
  // The buffered bytes, and consuming them.
  const char* data() const { return buf_.data() + pos_; }
  size_t buffered_size() const { return buf_.size() - pos_; }
  void Consume(size_t n);
  // Puts bytes back in front of whatever is buffered.
  void Unread(const char* p, size_t n);

  const std::shared_ptr<transport::Stream>& inner() const { return inner_; }
  // Memory the read-ahead holds; none beyond the string's inline storage
  // once drained (pooled links are idle most of the time).
  size_t reserved_bytes() const { return buf_.capacity(); }

 private:
  bool buffered() const { return pos_ < buf_.size(); }

  std::shared_ptr<transport::Stream> inner_;
  std::string buf_;
  size_t pos_ = 0;
};

}  // namespace reitunnel::net
