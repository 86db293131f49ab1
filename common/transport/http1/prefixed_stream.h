#pragma once

// A Stream that first returns bytes already read from `inner` (what came
// after an HTTP head: a proxy's tunnel data, frames right after a 101), then
// reads `inner` itself. Everything else is forwarded.

#include <memory>
#include <string>

#include "common/transport/stream.h"

namespace reitunnel::transport::http1 {

class PrefixedStream : public Stream {
 public:
  PrefixedStream(std::shared_ptr<Stream> inner, std::string prefix);

  asio::awaitable<size_t> ReadSome(asio::mutable_buffer buf) override;
  asio::awaitable<void> WriteAll(asio::const_buffer buf) override;
  void ShutdownSend() override { inner_->ShutdownSend(); }
  void Close() override { inner_->Close(); }
  bool is_open() const override { return inner_->is_open(); }
  const std::string& peer() const override { return inner_->peer(); }
  const char* kind() const override { return inner_->kind(); }
  asio::any_io_executor get_executor() override { return inner_->get_executor(); }
  int splice_fd() const override { return inner_->splice_fd(); }
  bool has_buffered_input() const override {
    return pos_ < prefix_.size() || inner_->has_buffered_input();
  }

 private:
  std::shared_ptr<Stream> inner_;
  std::string prefix_;
  size_t pos_ = 0;
};

// `inner` itself when `prefix` is empty, a PrefixedStream otherwise.
std::shared_ptr<Stream> WithPrefix(std::shared_ptr<Stream> inner, std::string prefix);

}  // namespace reitunnel::transport::http1
