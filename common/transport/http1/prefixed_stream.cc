#include "common/transport/http1/prefixed_stream.h"

#include <algorithm>
#include <cstring>

namespace reitunnel::transport::http1 {

PrefixedStream::PrefixedStream(std::shared_ptr<Stream> inner, std::string prefix)
    : inner_(std::move(inner)), prefix_(std::move(prefix)) {}

asio::awaitable<size_t> PrefixedStream::ReadSome(asio::mutable_buffer buf) {
  if (pos_ < prefix_.size()) {
    const size_t n = std::min(buf.size(), prefix_.size() - pos_);
    std::memcpy(buf.data(), prefix_.data() + pos_, n);
    pos_ += n;
    if (pos_ == prefix_.size()) {
      prefix_.clear();
      prefix_.shrink_to_fit();
      pos_ = 0;
    }
    co_return n;
  }
  co_return co_await inner_->ReadSome(buf);
}

asio::awaitable<void> PrefixedStream::WriteAll(asio::const_buffer buf) {
  co_await inner_->WriteAll(buf);
}

std::shared_ptr<Stream> WithPrefix(std::shared_ptr<Stream> inner, std::string prefix) {
  if (prefix.empty()) return inner;
  return std::make_shared<PrefixedStream>(std::move(inner), std::move(prefix));
}

}  // namespace reitunnel::transport::http1
