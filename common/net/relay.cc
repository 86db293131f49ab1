#include "common/net/relay.h"

#include <system_error>

#include "asio/experimental/awaitable_operators.hpp"
#include "asio/use_awaitable.hpp"
#include "common/net/relay_io.h"

namespace reitunnel::net {
namespace {

using namespace asio::experimental::awaitable_operators;
namespace rio = relay_io;

// One direction, socket to socket through a pipe. After a short read the
// socket is most likely empty, so wait instead of paying for a splice that
// fails with EAGAIN.
asio::awaitable<void> SpliceTransfer(Conn& from, Conn& to, bool to_link, RelaySinks sinks,
                                     bool wait_first) {
  for (;;) {
    if (wait_first) co_await rio::WaitRead(from.socket());
    auto pipe = rio::TakePipe();
    ssize_t n = rio::TrySpliceIn(from.socket(), *pipe, rio::kSpliceChunk);
    if (n < 0) {
      rio::GivePipe(std::move(pipe));
      wait_first = true;
      continue;
    }
    if (n == 0) {
      rio::GivePipe(std::move(pipe));
      break;
    }
    co_await rio::DrainPipe(*pipe, to.socket(), static_cast<size_t>(n));
    rio::GivePipe(std::move(pipe));
    if (to_link) {
      sinks.ToLink(static_cast<uint64_t>(n));
    } else {
      sinks.FromLink(static_cast<uint64_t>(n), 1);
    }
    wait_first = static_cast<size_t>(n) < rio::kPipeCapacity;
  }
  to.ShutdownSend();
}

asio::awaitable<void> CopyTransfer(transport::Stream& from, transport::Stream& to, bool to_link,
                                   RelaySinks sinks) {
  auto block = rio::TakeBlock();
  for (;;) {
    size_t n = co_await from.ReadSome(asio::buffer(block->data(), rio::kBlockSize));
    if (n == 0) break;
    co_await to.WriteAll(asio::buffer(block->data(), n));
    if (to_link) {
      sinks.ToLink(n);
    } else {
      sinks.FromLink(n, 1);
    }
  }
  rio::GiveBlock(std::move(block));
  to.ShutdownSend();
}

asio::awaitable<void> Transfer(Conn& from, Conn& to, bool to_link, RelaySinks sinks) {
  if (from.splice_fd() >= 0 && to.splice_fd() >= 0) {
    co_await SpliceTransfer(from, to, to_link, sinks, /*wait_first=*/!to_link);
  } else {
    co_await CopyTransfer(from, to, to_link, sinks);
  }
}

}  // namespace

asio::awaitable<void> Relay(Conn& plain, Conn& link, RelaySinks sinks) {
  for (Conn* c : {&plain, &link}) {
    if (!c->is_tls()) c->socket().native_non_blocking(true);
  }
  try {
    // `&&` cancels the other direction if one fails, so a reset on either
    // side tears the pair down promptly.
    co_await (Transfer(plain, link, true, sinks) && Transfer(link, plain, false, sinks));
  } catch (...) {
    plain.Close();
    link.Close();
    throw;
  }
  plain.Close();
  link.Close();
}

}  // namespace reitunnel::net
