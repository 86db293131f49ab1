#pragma once

// Building blocks of the relays: recycled pipes and buffers (per thread, so
// an idle relay holds neither) and fd-level reads/writes that try the
// syscall first and wait for readiness only when it would block.

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "asio/awaitable.hpp"
#include "asio/ip/tcp.hpp"

namespace reitunnel::net::relay_io {

// Linux's default pipe capacity: a splice that moved this much probably
// left more.
inline constexpr size_t kPipeCapacity = 64 * 1024;
// The capacity recycled pipes ask for (F_SETPIPE_SZ), and how many of a
// process's pipes may have it (16 MiB of the user's pipe quota).
inline constexpr size_t kPipeTarget = 1 << 20;
inline constexpr int kMaxBigPipes = 16;
inline constexpr size_t kSpliceChunk = 1 << 20;
// Copy-mode block; a read that fills it switches a direction to splice.
inline constexpr size_t kBlockSize = 64 * 1024;

struct Pipe {
  Pipe();
  ~Pipe();
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  int r = -1;
  int w = -1;
  bool big = false;  // grown to kPipeTarget
};

std::unique_ptr<Pipe> TakePipe();
// Only empty pipes go back.
void GivePipe(std::unique_ptr<Pipe> p);

struct Block {
  // 4 spare bytes in front let a framed sender write a chunk header and the
  // data with one send().
  static constexpr size_t kHeadroom = 4;
  char bytes[kHeadroom + kBlockSize];
  char* data() { return bytes + kHeadroom; }
};
std::unique_ptr<Block> TakeBlock();
void GiveBlock(std::unique_ptr<Block> b);

// Waits until `s` is readable / writable.
asio::awaitable<void> WaitRead(asio::ip::tcp::socket& s);
asio::awaitable<void> WaitWrite(asio::ip::tcp::socket& s);

// Writes all `len` bytes to the socket, waiting whenever it would block.
// `more` sets MSG_MORE (a chunk header followed by spliced data).
asio::awaitable<void> WriteAll(asio::ip::tcp::socket& s, const char* p, size_t len,
                               bool more = false);
// Moves exactly `len` bytes out of `pipe` into the socket.
asio::awaitable<void> DrainPipe(Pipe& pipe, asio::ip::tcp::socket& out, size_t len);

// recv() once. Returns bytes read, 0 on EOF, -1 when it would block.
// Throws std::system_error on errors.
ssize_t TryRecv(asio::ip::tcp::socket& s, char* p, size_t len);
// splice() from the socket into the pipe once; same return convention.
ssize_t TrySpliceIn(asio::ip::tcp::socket& s, Pipe& pipe, size_t len);

// Closes with an RST (SO_LINGER 0), so the peer sees the reset we relay.
void Abort(asio::ip::tcp::socket& s);

}  // namespace reitunnel::net::relay_io
