// Datagrams over a link (datagram_link.h): boundaries survive reads that
// split or merge chunks, the terminators end a flow, and an oversized chunk
// is a protocol error; and UdpGroup refuses a port someone else holds.

#include "common/net/datagram_link.h"

#include <optional>
#include <string>
#include <vector>

#include "asio/io_context.hpp"
#include "common/net/frame_io.h"
#include "common/net/udp_group.h"
#include "gtest/gtest.h"
#include "tests/common/net/net_test_util.h"

namespace reitunnel::net {
namespace {

using testing::ConnPair;
using testing::CopyStream;
using testing::RunOn;
using testing::TcpPair;

TEST(DatagramLinkTest, BoundariesSurviveShortReadsAndEndsAreTold) {
  asio::io_context io;
  std::vector<std::string> got;
  bool saw_end = false, saw_reset = false;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    BufferedStream writer(p.client);
    // Reads of 3 bytes at most: every header and payload arrives in pieces.
    BufferedStream reader(std::make_shared<CopyStream>(p.server, 3));
    const std::vector<std::string> sent = {"a", std::string(1400, 'x'), std::string(kMaxDatagram, 'y'),
                                           "last"};
    for (const auto& d : sent) co_await WriteDatagram(writer, d);
    co_await WriteDatagramEnd(writer);
    co_await WriteDatagram(writer, "after");  // the next flow on the reused link
    co_await WriteDatagramEnd(writer, /*reset=*/true);
    bool reset = true;
    for (;;) {
      std::optional<std::string> d = co_await ReadDatagram(reader, &reset);
      if (!d) break;
      got.push_back(*d);
    }
    saw_end = !reset;
    std::optional<std::string> next = co_await ReadDatagram(reader, &reset);
    EXPECT_EQ(next.value_or(""), "after");
    next = co_await ReadDatagram(reader, &reset);
    saw_reset = !next && reset;
  });
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0], "a");
  EXPECT_EQ(got[1], std::string(1400, 'x'));
  EXPECT_EQ(got[2].size(), kMaxDatagram);
  EXPECT_EQ(got[3], "last");
  EXPECT_TRUE(saw_end);
  EXPECT_TRUE(saw_reset);
}

TEST(DatagramLinkTest, OversizedChunkAndEofAreErrors) {
  asio::io_context io;
  std::string oversized, eof;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    const char header[4] = {0, 1, 0, 0};  // 65536 > kMaxDatagram
    co_await p.client->WriteAll(asio::buffer(header, 4));
    const char partial[6] = {0, 0, 0, 9, 'a', 'b'};
    co_await p.client->WriteAll(asio::buffer(partial, 6));
    p.client->ShutdownSend();
    BufferedStream reader(p.server);
    bool reset = false;
    try {
      (void)co_await ReadDatagram(reader, &reset);
    } catch (const ProtocolError& e) {
      oversized = e.what();
    }
    try {
      (void)co_await ReadDatagram(reader, &reset);
    } catch (const std::system_error& e) {
      eof = e.code().message();
    }
  });
  EXPECT_NE(oversized.find("65536"), std::string::npos) << oversized;
  EXPECT_FALSE(eof.empty());
}

TEST(UdpGroupTest, OneSocketPerExecutorOnOnePortAndABusyPortIsRefused) {
  asio::io_context a, b;
  auto group = UdpGroup({asio::ip::make_address("127.0.0.1"), 0},
                        {a.get_executor(), b.get_executor()});
  ASSERT_TRUE(group.ok()) << group.status();
  ASSERT_EQ(group->size(), 2u);
  const uint16_t port = (*group)[0].local_endpoint().port();
  EXPECT_EQ((*group)[1].local_endpoint().port(), port);
  EXPECT_TRUE((*group)[0].non_blocking());
  // Held (by our own group, which another process could not join either).
  auto again = UdpGroup({asio::ip::make_address("127.0.0.1"), port}, {a.get_executor()});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace reitunnel::net
