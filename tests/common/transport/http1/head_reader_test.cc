#include "common/transport/http1/head_reader.h"

#include "common/transport/errors/errors.h"
#include "common/transport/http1/prefixed_stream.h"
#include "common/transport/http1/timeout.h"
#include "gtest/gtest.h"
#include "tests/common/transport/loopback.h"

namespace reitunnel::transport::http1 {
namespace {

using testing::ConnPair;
using testing::RunOn;
using testing::TcpPair;

TEST(ReadHeadTest, HeadSplitAcrossWritesAndBytesAfterItKept) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    const std::string a = "HTTP/1.1 200 OK\r\nX: 1\r";
    const std::string b = "\n\r\nTUNNEL";
    co_await p.server->WriteAll(asio::buffer(a));
    co_await p.server->WriteAll(asio::buffer(b));
    p.server->ShutdownSend();
    HeadAndRest r = co_await ReadHead(*p.client, 8192);
    EXPECT_EQ(r.head, "HTTP/1.1 200 OK\r\nX: 1\r\n\r\n");
    // The rest may arrive with the head or later; together it is "TUNNEL".
    auto s = WithPrefix(p.client, r.rest);
    EXPECT_EQ(co_await testing::ReadAll(*s), "TUNNEL");
  });
}

TEST(ReadHeadTest, TooLargeAndEof) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    const std::string big(10000, 'a');
    co_await p.server->WriteAll(asio::buffer(big));
    try {
      co_await ReadHead(*p.client, 4096);
      ADD_FAILURE() << "no error";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), make_error_code(TransportError::kTooLarge));
    }
    ConnPair q = co_await TcpPair();
    const std::string partial = "HTTP/1.1 200 OK\r\n";
    co_await q.server->WriteAll(asio::buffer(partial));
    q.server->ShutdownSend();
    try {
      co_await ReadHead(*q.client, 4096);
      ADD_FAILURE() << "no error";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), asio::error::eof);
    }
  });
}

TEST(ReadHeadTest, TimeoutCancelsTheRead) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    const auto start = std::chrono::steady_clock::now();
    try {
      co_await WithTimeout(ReadHead(*p.client, 4096), std::chrono::milliseconds(100), "head");
      ADD_FAILURE() << "no timeout";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), asio::error::timed_out);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  });
}

TEST(PrefixedStreamTest, PrefixFirstThenInner) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    auto s = std::make_shared<PrefixedStream>(p.client, "abc");
    EXPECT_TRUE(s->has_buffered_input());
    char two[2];
    EXPECT_EQ(co_await s->ReadSome(asio::buffer(two)), 2u);
    EXPECT_EQ(std::string(two, 2), "ab");
    const std::string more = "def";
    co_await p.server->WriteAll(asio::buffer(more));
    p.server->ShutdownSend();
    EXPECT_EQ(co_await testing::ReadAll(*s), "cdef");
    EXPECT_FALSE(s->has_buffered_input());
    EXPECT_EQ(WithPrefix(p.client, "").get(), p.client.get());
  });
}

}  // namespace
}  // namespace reitunnel::transport::http1
