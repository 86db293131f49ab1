#pragma once

// Test helpers for transports over real loopback sockets: running a
// coroutine on an io_context against a deadline, connected TCP pairs.

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "asio/co_spawn.hpp"
#include "asio/experimental/awaitable_operators.hpp"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/use_awaitable.hpp"
#include "common/net/conn.h"
#include "gtest/gtest.h"

// gtest's ASSERT_* return from the function, which a coroutine cannot do;
// these co_return instead (only in coroutines returning awaitable<void>).
#define REITUNNEL_CO_FATAL_FAILURE_(message) \
  co_return GTEST_MESSAGE_(message, ::testing::TestPartResult::kFatalFailure)
#define CO_ASSERT_TRUE(c) GTEST_TEST_BOOLEAN_(c, #c, false, true, REITUNNEL_CO_FATAL_FAILURE_)
#define CO_ASSERT_FALSE(c) GTEST_TEST_BOOLEAN_(!(c), #c, true, false, REITUNNEL_CO_FATAL_FAILURE_)
#define CO_ASSERT_EQ(a, b) \
  GTEST_PRED_FORMAT2_(::testing::internal::EqHelper::Compare, a, b, REITUNNEL_CO_FATAL_FAILURE_)
#define CO_ASSERT_LT(a, b) \
  GTEST_PRED_FORMAT2_(::testing::internal::CmpHelperLT, a, b, REITUNNEL_CO_FATAL_FAILURE_)

namespace reitunnel::transport::testing {

using asio::ip::tcp;

// Runs `make()`'s coroutine to completion on `io`; throws what it threw.
// Fails (throws) when it takes longer than `limit`: tests never hang.
template <typename Make>
void RunOn(asio::io_context& io, Make&& make,
           std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  bool done = false;
  std::exception_ptr error;
  asio::co_spawn(io, make(), [&](std::exception_ptr e) {
    error = e;
    done = true;
    io.stop();
  });
  io.restart();
  io.run_for(limit);
  if (!done) throw std::runtime_error("test coroutine did not finish in time");
  if (error) std::rethrow_exception(error);
}

struct ConnPair {
  std::shared_ptr<net::Conn> client;
  std::shared_ptr<net::Conn> server;
};

// A connected TCP pair on 127.0.0.1 (port picked by the kernel).
inline asio::awaitable<ConnPair> TcpPair() {
  auto ex = co_await asio::this_coro::executor;
  tcp::acceptor acceptor(ex, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client(ex);
  using namespace asio::experimental::awaitable_operators;
  tcp::socket server =
      co_await (client.async_connect(acceptor.local_endpoint(), asio::use_awaitable) &&
                acceptor.async_accept(asio::use_awaitable));
  co_return ConnPair{std::make_shared<net::Conn>(std::move(client)),
                     std::make_shared<net::Conn>(std::move(server))};
}

// Reads until EOF or `max` bytes.
inline asio::awaitable<std::string> ReadAll(Stream& s, size_t max = size_t{1} << 30) {
  std::string out;
  char buf[16384];
  for (;;) {
    size_t n = co_await s.ReadSome(asio::buffer(buf));
    if (n == 0) break;
    out.append(buf, n);
    if (out.size() >= max) break;
  }
  co_return out;
}

// Reads exactly `n` bytes (throws on early EOF).
inline asio::awaitable<std::string> ReadN(Stream& s, size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    size_t k = co_await s.ReadSome(asio::buffer(out.data() + got, n - got));
    if (k == 0) throw std::runtime_error("early EOF after " + std::to_string(got) + " bytes");
    got += k;
  }
  co_return out;
}

}  // namespace reitunnel::transport::testing
