#pragma once

// Helpers for the data-plane tests: streams that change how a connection
// looks to the relays (not spliceable, short reads), bulk data with SHA-256,
// and the chunk protocol of framed_relay.h spoken by hand.

#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "asio/awaitable.hpp"
#include "asio/buffer.hpp"
#include "common/net/framed_relay.h"
#include "common/transport/stream.h"
#include "tests/common/transport/loopback.h"

namespace reitunnel::net::testing {

using transport::testing::ConnPair;
using transport::testing::ReadAll;
using transport::testing::ReadN;
using transport::testing::RunOn;
using transport::testing::TcpPair;

// Forwards to `inner` but is never spliceable, so relays take their copy
// path; with `max_read`, every ReadSome returns at most that many bytes
// (headers split across reads). Counts the reads that reached `inner`.
class CopyStream final : public transport::Stream {
 public:
  explicit CopyStream(std::shared_ptr<transport::Stream> inner, size_t max_read = 0)
      : inner_(std::move(inner)), max_read_(max_read) {}

  asio::awaitable<size_t> ReadSome(asio::mutable_buffer buf) override {
    ++reads_;
    if (max_read_ && buf.size() > max_read_) buf = asio::buffer(buf.data(), max_read_);
    co_return co_await inner_->ReadSome(buf);
  }
  asio::awaitable<void> WriteAll(asio::const_buffer buf) override {
    co_await inner_->WriteAll(buf);
  }
  void ShutdownSend() override { inner_->ShutdownSend(); }
  void Close() override { inner_->Close(); }
  bool is_open() const override { return inner_->is_open(); }
  const std::string& peer() const override { return inner_->peer(); }
  const char* kind() const override { return "copy"; }
  asio::any_io_executor get_executor() override { return inner_->get_executor(); }

  int reads() const { return reads_; }

 private:
  std::shared_ptr<transport::Stream> inner_;
  size_t max_read_;
  int reads_ = 0;
};

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  std::string Final() {
    unsigned char d[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, d, &len);
    return std::string(reinterpret_cast<char*>(d), len);
  }

 private:
  EVP_MD_CTX* ctx_;
};

// Deterministic bytes (xorshift), different per seed.
inline void FillPseudoRandom(uint64_t* state, char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    p[i] = static_cast<char>(*state);
  }
}

// Writes `total` bytes in writes of varying size (small ones too, so both
// the copy and the splice mode of a relay are used); returns their SHA-256.
inline asio::awaitable<std::string> SendBulk(transport::Stream& s, size_t total, uint64_t seed) {
  Sha256 sha;
  std::vector<char> chunk(1 << 20);
  uint64_t state = seed | 1;
  size_t sent = 0;
  size_t step = 100 * 1024 + 7;
  while (sent < total) {
    const size_t n = std::min({step, chunk.size(), total - sent});
    FillPseudoRandom(&state, chunk.data(), n);
    sha.Update(chunk.data(), n);
    co_await s.WriteAll(asio::buffer(chunk.data(), n));
    sent += n;
    step = step * 3 % (1 << 20) + 1;
  }
  co_return sha.Final();
}

struct Received {
  size_t bytes = 0;
  std::string sha256;
};

// Reads to EOF, hashing.
inline asio::awaitable<Received> ReceiveBulk(transport::Stream& s) {
  Sha256 sha;
  std::vector<char> buf(50 * 1024);
  Received r;
  for (;;) {
    const size_t n = co_await s.ReadSome(asio::buffer(buf));
    if (n == 0) break;
    sha.Update(buf.data(), n);
    r.bytes += n;
  }
  r.sha256 = sha.Final();
  co_return r;
}

inline std::string ChunkHeader(uint32_t v) {
  std::string h(4, '\0');
  h[0] = static_cast<char>(v >> 24);
  h[1] = static_cast<char>(v >> 16);
  h[2] = static_cast<char>(v >> 8);
  h[3] = static_cast<char>(v);
  return h;
}

inline std::string Chunk(const std::string& data) {
  return ChunkHeader(static_cast<uint32_t>(data.size())) + data;
}

// What one direction of a link carried up to its terminator.
struct ChunkedRead {
  std::string data;
  uint32_t terminator = 1;  // neither kChunkEnd nor kChunkReset: none seen
  size_t chunks = 0;
  size_t largest_chunk = 0;
  std::string after;  // bytes read past the terminator
};

// The far end of a link, reading chunks by hand up to the terminator.
inline asio::awaitable<ChunkedRead> ReadChunks(transport::Stream& s) {
  ChunkedRead out;
  std::string buf;
  char tmp[65536];
  size_t pos = 0;
  auto need = [&](size_t n) -> asio::awaitable<void> {
    while (buf.size() - pos < n) {
      size_t got = co_await s.ReadSome(asio::buffer(tmp));
      if (got == 0) throw std::system_error(asio::error::eof);
      buf.append(tmp, got);
    }
  };
  for (;;) {
    co_await need(4);
    const auto* p = reinterpret_cast<const unsigned char*>(buf.data() + pos);
    uint32_t len = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    pos += 4;
    if (len == kChunkEnd || len == kChunkReset) {
      out.terminator = len;
      out.after = buf.substr(pos);
      co_return out;
    }
    co_await need(len);
    out.data.append(buf, pos, len);
    pos += len;
    ++out.chunks;
    out.largest_chunk = std::max<size_t>(out.largest_chunk, len);
    if (pos > (1 << 20)) {
      buf.erase(0, pos);
      pos = 0;
    }
  }
}

// Reads until EOF; true if the connection ended with a reset (ECONNRESET)
// rather than an orderly EOF. `data` gets what arrived before.
inline asio::awaitable<bool> EndsWithReset(transport::Stream& s, std::string* data = nullptr) {
  char tmp[16384];
  try {
    for (;;) {
      size_t n = co_await s.ReadSome(asio::buffer(tmp));
      if (n == 0) co_return false;
      if (data) data->append(tmp, n);
    }
  } catch (const std::system_error& e) {
    if (e.code() == asio::error::connection_reset) co_return true;
    throw;
  }
}

// Closes `c` with an RST (SO_LINGER 0), as a crashed or aborting peer does.
inline void Abort(net::Conn& c) {
  asio::error_code ec;
  c.socket().set_option(asio::socket_base::linger(true, 0), ec);
  c.socket().close(ec);
}

}  // namespace reitunnel::net::testing
