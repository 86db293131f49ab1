#include "common/net/framed_relay.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

#include "asio/experimental/awaitable_operators.hpp"
#include "asio/use_awaitable.hpp"
#include "common/net/relay_io.h"

namespace reitunnel::net {
namespace {

using namespace asio::experimental::awaitable_operators;
namespace rio = relay_io;

// The link failed or its peer broke the chunk protocol: not recoverable.
struct LinkError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void PutHeader(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

uint32_t GetHeader(const char* p) {
  auto b = [p](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(p[i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

// The link's TCP socket when chunks may be spliced into or out of it.
Conn* SpliceableLink(BufferedStream& link) {
  if (link.inner()->splice_fd() < 0) return nullptr;
  return dynamic_cast<Conn*>(link.inner().get());
}

struct Shared {
  bool link_failed = false;
};

asio::awaitable<void> LinkWrite(BufferedStream& link, Conn* tcp, const char* p, size_t n,
                                bool more, Shared& sh) {
  try {
    if (tcp) {
      co_await rio::WriteAll(tcp->socket(), p, n, more);
    } else {
      co_await link.WriteAll(asio::buffer(p, n));
    }
  } catch (const std::system_error& e) {
    sh.link_failed = true;
    throw LinkError(std::string("data connection write failed: ") + e.what());
  }
}

// plain -> link. Ends by sending the terminator; never throws for plain-side
// failures (they become a reset).
asio::awaitable<void> PumpOut(Conn& plain, BufferedStream& link, Conn* tcp, RelaySinks sinks,
                              bool wait_first, Shared& sh) {
  auto& in = plain.socket();
  bool splice_mode = false;
  uint32_t terminator = kChunkEnd;
  try {
    for (;;) {
      if (wait_first) {
        co_await rio::WaitRead(in);
        wait_first = false;
      }
      if (splice_mode) {
        auto pipe = rio::TakePipe();
        ssize_t n = rio::TrySpliceIn(in, *pipe, rio::kSpliceChunk);
        if (n <= 0) {
          rio::GivePipe(std::move(pipe));
          if (n == 0) break;
          splice_mode = false;
          wait_first = true;
          continue;
        }
        char hdr[4];
        PutHeader(hdr, static_cast<uint32_t>(n));
        co_await LinkWrite(link, tcp, hdr, sizeof(hdr), /*more=*/true, sh);
        try {
          co_await rio::DrainPipe(*pipe, tcp->socket(), static_cast<size_t>(n));
        } catch (const std::system_error& e) {
          sh.link_failed = true;
          throw LinkError(std::string("data connection write failed: ") + e.what());
        }
        rio::GivePipe(std::move(pipe));
        sinks.ToLink(static_cast<uint64_t>(n));
        if (static_cast<size_t>(n) < rio::kPipeCapacity) {
          splice_mode = false;
          wait_first = true;
        }
        continue;
      }
      auto block = rio::TakeBlock();
      ssize_t n = rio::TryRecv(in, block->data(), rio::kBlockSize);
      if (n <= 0) {
        rio::GiveBlock(std::move(block));
        if (n == 0) break;
        wait_first = true;
        continue;
      }
      PutHeader(block->bytes, static_cast<uint32_t>(n));
      co_await LinkWrite(link, tcp, block->bytes, static_cast<size_t>(n) + 4, false, sh);
      rio::GiveBlock(std::move(block));
      sinks.ToLink(static_cast<uint64_t>(n));
      if (static_cast<size_t>(n) == rio::kBlockSize) {
        splice_mode = tcp != nullptr;
      } else {
        wait_first = true;
      }
    }
  } catch (const LinkError&) {
    throw;
  } catch (const std::system_error&) {
    // Reset by the plain peer, or aborted because the other side reset.
    terminator = kChunkReset;
  }
  if (sh.link_failed) throw LinkError("data connection failed");
  char hdr[4];
  PutHeader(hdr, terminator);
  co_await LinkWrite(link, tcp, hdr, sizeof(hdr), false, sh);
  if (terminator == kChunkReset) rio::Abort(plain.socket());
}

// link -> plain, up to the peer's terminator. Bytes read past it stay in
// `link` for whoever reads next.
asio::awaitable<void> PumpIn(BufferedStream& link, Conn* tcp, Conn* plain, RelaySinks sinks,
                             Shared& sh) {
  uint32_t remaining = 0;
  char hdr[4];
  size_t hdr_have = 0;
  bool plain_dead = plain == nullptr;
  auto kill_plain = [&] {
    plain_dead = true;
    if (plain) rio::Abort(plain->socket());
  };
  for (;;) {
    if (sh.link_failed) throw LinkError("data connection failed");
    if (tcp && !plain_dead && remaining >= rio::kPipeCapacity && !link.has_buffered_input()) {
      auto pipe = rio::TakePipe();
      ssize_t n;
      try {
        n = rio::TrySpliceIn(tcp->socket(), *pipe,
                             std::min<size_t>(remaining, rio::kSpliceChunk));
        if (n < 0) {
          rio::GivePipe(std::move(pipe));
          co_await rio::WaitRead(tcp->socket());
          continue;
        }
      } catch (const std::system_error& e) {
        sh.link_failed = true;
        throw LinkError(std::string("data connection read failed: ") + e.what());
      }
      if (n == 0) {
        sh.link_failed = true;
        throw LinkError("data connection closed in the middle of a relay");
      }
      try {
        co_await rio::DrainPipe(*pipe, plain->socket(), static_cast<size_t>(n));
        rio::GivePipe(std::move(pipe));
      } catch (const std::system_error&) {
        // The pipe still holds the bytes; it is simply dropped.
        kill_plain();
        // What is left of this chunk is still on the link: read and drop it.
        uint64_t left = remaining - static_cast<uint64_t>(n);
        remaining = static_cast<uint32_t>(left);
        continue;
      }
      remaining -= static_cast<uint32_t>(n);
      sinks.FromLink(static_cast<uint64_t>(n), 1);
      continue;
    }
    auto block = rio::TakeBlock();
    size_t n;
    try {
      if (tcp && !link.has_buffered_input()) {
        // Straight from the socket, and the block goes back while the link
        // is quiet: an idle visitor holds no 64 KiB buffer.
        const ssize_t got = rio::TryRecv(tcp->socket(), block->data(), rio::kBlockSize);
        if (got < 0) {
          rio::GiveBlock(std::move(block));
          co_await rio::WaitRead(tcp->socket());
          continue;
        }
        n = static_cast<size_t>(got);
      } else {
        n = co_await link.ReadSome(asio::buffer(block->data(), rio::kBlockSize));
      }
    } catch (const std::system_error& e) {
      sh.link_failed = true;
      throw LinkError(std::string("data connection read failed: ") + e.what());
    }
    if (n == 0) {
      sh.link_failed = true;
      throw LinkError("data connection closed in the middle of a relay");
    }
    const char* p = block->data();
    size_t pos = 0;
    uint64_t delivered = 0;
    while (pos < n) {
      if (remaining == 0) {
        size_t take = std::min(sizeof(hdr) - hdr_have, n - pos);
        std::memcpy(hdr + hdr_have, p + pos, take);
        hdr_have += take;
        pos += take;
        if (hdr_have < sizeof(hdr)) break;
        hdr_have = 0;
        uint32_t len = GetHeader(hdr);
        if (len == kChunkEnd || len == kChunkReset) {
          link.Unread(p + pos, n - pos);
          if (delivered) sinks.FromLink(delivered, 1);
          rio::GiveBlock(std::move(block));
          if (len == kChunkEnd) {
            if (!plain_dead) plain->ShutdownSend();
          } else {
            kill_plain();
          }
          co_return;
        }
        if (len > kMaxChunk) {
          sh.link_failed = true;
          throw LinkError("data connection sent an oversized chunk");
        }
        remaining = len;
        continue;
      }
      size_t take = std::min<size_t>(remaining, n - pos);
      if (!plain_dead) {
        try {
          co_await rio::WriteAll(plain->socket(), p + pos, take);
          delivered += take;
        } catch (const std::system_error&) {
          kill_plain();
        }
      }
      remaining -= static_cast<uint32_t>(take);
      pos += take;
    }
    if (delivered) sinks.FromLink(delivered, 1);
    rio::GiveBlock(std::move(block));
  }
}

}  // namespace

asio::awaitable<LinkState> FramedRelay(Conn& plain, BufferedStream& link, RelaySinks sinks,
                                       FramedRelayOptions options) {
  Conn* tcp = SpliceableLink(link);
  if (tcp) tcp->socket().native_non_blocking(true);
  plain.socket().native_non_blocking(true);
  Shared sh;
  try {
    co_await (PumpOut(plain, link, tcp, sinks, !options.plain_read_first, sh) &&
              PumpIn(link, tcp, &plain, sinks, sh));
  } catch (const std::exception&) {
    rio::Abort(plain.socket());
    link.Close();
    co_return LinkState::kBroken;
  }
  plain.Close();
  co_return LinkState::kReusable;
}

asio::awaitable<LinkState> FramedReject(BufferedStream& link) {
  Conn* tcp = SpliceableLink(link);
  Shared sh;
  try {
    char hdr[4];
    PutHeader(hdr, kChunkReset);
    co_await LinkWrite(link, tcp, hdr, sizeof(hdr), false, sh);
    co_await PumpIn(link, tcp, nullptr, RelaySinks{}, sh);
  } catch (const std::exception&) {
    link.Close();
    co_return LinkState::kBroken;
  }
  co_return LinkState::kReusable;
}

asio::awaitable<LinkState> FramedAnswer(BufferedStream& link, std::string_view reply) {
  Conn* tcp = SpliceableLink(link);
  Shared sh;
  try {
    // One chunk (replies are short: far below kMaxChunk), then the end of
    // stream, in one write.
    std::string out;
    if (!reply.empty()) {
      char hdr[4];
      PutHeader(hdr, static_cast<uint32_t>(std::min<size_t>(reply.size(), kMaxChunk)));
      out.append(hdr, sizeof(hdr));
      out.append(reply.substr(0, kMaxChunk));
    }
    char end[4];
    PutHeader(end, kChunkEnd);
    out.append(end, sizeof(end));
    co_await LinkWrite(link, tcp, out.data(), out.size(), false, sh);
    co_await PumpIn(link, tcp, nullptr, RelaySinks{}, sh);
  } catch (const std::exception&) {
    link.Close();
    co_return LinkState::kBroken;
  }
  co_return LinkState::kReusable;
}

}  // namespace reitunnel::net
