#include "common/net/buffered_stream.h"

#include <algorithm>
#include <cstring>

namespace reitunnel::net {
namespace {
// Frames are at most 16 KiB + 8; reading a little ahead covers one frame and
// whatever small frames follow it.
constexpr size_t kReadAhead = 4096;
}  // namespace

asio::awaitable<size_t> BufferedStream::ReadSome(asio::mutable_buffer buf) {
  if (buffered()) {
    size_t n = std::min(buf.size(), buffered_size());
    std::memcpy(buf.data(), data(), n);
    Consume(n);
    co_return n;
  }
  co_return co_await inner_->ReadSome(buf);
}

asio::awaitable<size_t> BufferedStream::Fill(size_t min) {
  while (buffered_size() < min) {
    if (pos_ > 0) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    size_t old = buf_.size();
    size_t want = std::max(kReadAhead, min - old);
    buf_.resize(old + want);
    size_t n = 0;
    try {
      n = co_await inner_->ReadSome(asio::buffer(buf_.data() + old, want));
    } catch (...) {
      buf_.resize(old);
      throw;
    }
    buf_.resize(old + n);
    if (n == 0) break;
  }
  co_return buffered_size();
}

void BufferedStream::Consume(size_t n) {
  pos_ += std::min(n, buffered_size());
  if (pos_ == buf_.size()) {
    pos_ = 0;
    // An idle connection keeps no buffer: a pooled data connection reads
    // one StartRelay frame per visitor and then relays without it, and 4 KiB
    // kept per connection was a third of an idle visitor's memory.
    std::string().swap(buf_);
  }
}

void BufferedStream::Unread(const char* p, size_t n) {
  if (n == 0) return;
  buf_.insert(pos_, p, n);
}

}  // namespace reitunnel::net
