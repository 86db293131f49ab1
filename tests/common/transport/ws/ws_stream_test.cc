#include "common/transport/ws/ws_stream.h"

#include "asio/experimental/awaitable_operators.hpp"
#include "asio/steady_timer.hpp"
#include "common/transport/errors/errors.h"
#include "common/transport/http1/timeout.h"
#include "gtest/gtest.h"
#include "tests/common/transport/ws/malformed_frames.h"
#include "tests/common/transport/ws/ws_test_util.h"

namespace reitunnel::transport {
namespace {

using namespace asio::experimental::awaitable_operators;
using testing::ConnPair;
using testing::RawRead;
using testing::ReadAll;
using testing::ReadN;
using testing::RunOn;
using testing::TcpPair;
using testing::WsPair;
using testing::WsPairOverTcp;
using ws::Opcode;
using K = ws::FrameDecoder::Kind;

template <typename T>
asio::awaitable<T> Within(asio::awaitable<T> op, int ms = 5000) {
  co_return co_await http1::WithTimeout(std::move(op), std::chrono::milliseconds(ms), "step");
}

TEST(WsStreamTest, EchoBothWaysAndKinds) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    WsPair p = co_await WsPairOverTcp();
    EXPECT_STREQ(p.client->kind(), "ws");
    EXPECT_STREQ(p.server->kind(), "ws");
    EXPECT_EQ(p.client->splice_fd(), -1);
    EXPECT_EQ(p.client->subprotocol(), "reitunnel.v1");
    EXPECT_EQ(p.server->subprotocol(), "reitunnel.v1");
    EXPECT_EQ(p.server->peer().rfind("127.0.0.1:", 0), 0u);
    const std::string hello = "hello";
    co_await p.client->WriteAll(asio::buffer(hello));
    EXPECT_EQ(co_await Within(ReadN(*p.server, 5)), "hello");
    const std::string back(200000, 'b');
    co_await p.server->WriteAll(asio::buffer(back));
    EXPECT_EQ(co_await Within(ReadN(*p.client, back.size())), back);
  });
}

TEST(WsStreamTest, Bulk64MiBBothDirectionsAtOnceWithSha256) {
  asio::io_context io;
  RunOn(
      io,
      [&]() -> asio::awaitable<void> {
        // Keepalive on both ends: pings/pongs interleave with bulk frames.
        WsClientOptions co = testing::ClientOptions();
        WsServerOptions so = testing::ServerOptions();
        co.stream.ping_interval = std::chrono::milliseconds(2);
        so.stream.ping_interval = std::chrono::milliseconds(2);
        WsPair p = co_await WsPairOverTcp(co, so);
        constexpr size_t kBytes = size_t{64} << 20;
        auto client_send = [&]() -> asio::awaitable<std::string> {
          std::string sha = co_await testing::SendBulk(*p.client, kBytes, 11);
          p.client->ShutdownSend();
          co_return sha;
        };
        auto server_send = [&]() -> asio::awaitable<std::string> {
          std::string sha = co_await testing::SendBulk(*p.server, kBytes, 22);
          p.server->ShutdownSend();
          co_return sha;
        };
        auto [c_sent, s_sent, s_got, c_got] =
            co_await (client_send() && server_send() && testing::ReceiveBulk(*p.server) &&
                      testing::ReceiveBulk(*p.client));
        EXPECT_EQ(s_got.bytes, kBytes);
        EXPECT_EQ(c_got.bytes, kBytes);
        EXPECT_EQ(s_got.sha256, c_sent);
        EXPECT_EQ(c_got.sha256, s_sent);
        EXPECT_NE(c_sent, s_sent);
      },
      std::chrono::seconds(240));
}

TEST(WsStreamTest, LargeWritesBecomeBoundedFinalFrames) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair raw = co_await TcpPair();
    WsServerOptions so = testing::ServerOptions();
    so.stream.max_send_frame = 1000;
    auto [rest, server] =
        co_await (testing::RawClientHandshake(*raw.client) && WsAccept(raw.server, so));
    const std::string data(4500, 'q');
    co_await server->WriteAll(asio::buffer(data));
    server->ShutdownSend();
    std::string wire = rest + co_await Within(ReadAll(*raw.client, 4500 + 5 * 4 + 4));
    // Walk the frames: 4 x 1000 + 500, each FIN binary unmasked, then Close.
    std::vector<size_t> sizes;
    size_t pos = 0;
    while (pos + 2 <= wire.size() && static_cast<uint8_t>(wire[pos]) == 0x82) {
      size_t len = static_cast<uint8_t>(wire[pos + 1]) & 0x7f;
      size_t h = 2;
      if (len == 126) {
        len = (static_cast<uint8_t>(wire[pos + 2]) << 8) | static_cast<uint8_t>(wire[pos + 3]);
        h = 4;
      }
      EXPECT_EQ(static_cast<uint8_t>(wire[pos + 1]) & 0x80, 0);
      sizes.push_back(len);
      pos += h + len;
    }
    EXPECT_EQ(sizes, (std::vector<size_t>{1000, 1000, 1000, 1000, 500}));
    CO_ASSERT_LT(pos, wire.size());
    EXPECT_EQ(static_cast<uint8_t>(wire[pos]), 0x88);
  });
}

TEST(WsStreamTest, FragmentedMessageWithInterleavedPingIsOneStream) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair raw = co_await TcpPair();
    auto [rest, server] = co_await (testing::RawClientHandshake(*raw.client) &&
                                    WsAccept(raw.server, testing::ServerOptions()));
    EXPECT_TRUE(rest.empty());
    const std::string frames = ws::testing::Masked(Opcode::kBinary, false, "hello ") +
                               ws::testing::Masked(Opcode::kPing, true, "p1") +
                               ws::testing::Masked(Opcode::kContinuation, false, "wor") +
                               ws::testing::Masked(Opcode::kPong, true, "unsolicited") +
                               ws::testing::Masked(Opcode::kContinuation, true, "ld") +
                               ws::testing::Masked(Opcode::kBinary, true, "!");
    co_await raw.client->WriteAll(asio::buffer(frames));
    EXPECT_EQ(co_await Within(ReadN(*server, 12)), "hello world!");
    RawRead r =
        co_await Within(testing::ReadFrames(*raw.client, ws::Role::kClient, "", false, true));
    CO_ASSERT_EQ(r.controls.size(), 1u);
    EXPECT_EQ(r.controls[0].first, K::kPong);
    EXPECT_EQ(r.controls[0].second, "p1");
  });
}

// One side ends its direction; the other still sends, then ends too. Run
// with the client and with the server going first.
class HalfCloseTest : public ::testing::TestWithParam<bool> {};

TEST_P(HalfCloseTest, OtherDirectionKeepsFlowingUntilItsOwnClose) {
  const bool client_first = GetParam();
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    WsPair p = co_await WsPairOverTcp();
    WsStream& first = client_first ? *p.client : *p.server;
    WsStream& second = client_first ? *p.server : *p.client;
    const std::string last = "last words";
    co_await first.WriteAll(asio::buffer(last));
    first.ShutdownSend();
    try {
      co_await first.WriteAll(asio::buffer(last));
      ADD_FAILURE() << "write after ShutdownSend did not throw";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), make_error_code(TransportError::kWriteAfterClose));
    }
    EXPECT_EQ(co_await Within(ReadAll(second)), "last words");
    EXPECT_EQ(second.peer_close_code(), ws::close_code::kNormal);
    // EOF is sticky.
    char c;
    EXPECT_EQ(co_await second.ReadSome(asio::buffer(&c, 1)), 0u);
    const std::string reply(300000, 'r');
    co_await second.WriteAll(asio::buffer(reply));
    second.ShutdownSend();
    EXPECT_EQ(co_await Within(ReadAll(first)), reply);
    EXPECT_EQ(first.peer_close_code(), ws::close_code::kNormal);
  });
}

INSTANTIATE_TEST_SUITE_P(BothSides, HalfCloseTest, ::testing::Values(true, false),
                         [](const auto& info) {
                           return info.param ? "ClientFirst" : "ServerFirst";
                         });

TEST(WsStreamTest, RawPeerCloseIsEofAndOurCloseAnswersItThenTcpEnds) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair raw = co_await TcpPair();
    auto [rest, server] = co_await (testing::RawClientHandshake(*raw.client) &&
                                    WsAccept(raw.server, testing::ServerOptions()));
    const std::string close =
        ws::testing::Masked(Opcode::kClose, true, ws::EncodeClosePayload(1000, "done"));
    co_await raw.client->WriteAll(asio::buffer(close));
    char buf[10];
    EXPECT_EQ(co_await Within(server->ReadSome(asio::buffer(buf))), 0u);
    const std::string tail = "tail";
    co_await server->WriteAll(asio::buffer(tail));
    server->ShutdownSend();
    RawRead r = co_await Within(testing::ReadFrames(*raw.client, ws::Role::kClient, rest));
    EXPECT_EQ(r.data, "tail");
    CO_ASSERT_TRUE(r.close_code.has_value());
    EXPECT_EQ(*r.close_code, 1000);
    EXPECT_TRUE(r.eof);  // the server ended TCP after both Close frames
    EXPECT_EQ(r.decode_error, "");
  });
}

TEST(WsStreamTest, MalformedClientFramesCloseWithTheirCodeAndFailTheStream) {
  for (const ws::testing::MalformedFrame& m : ws::testing::MalformedClientFrames()) {
    SCOPED_TRACE(m.name);
    asio::io_context io;
    RunOn(io, [&]() -> asio::awaitable<void> {
      ConnPair raw = co_await TcpPair();
      WsServerOptions so = testing::ServerOptions();
      so.stream.limits = ws::testing::SmallLimits();
      auto [rest, server] =
          co_await (testing::RawClientHandshake(*raw.client) && WsAccept(raw.server, so));
      co_await raw.client->WriteAll(asio::buffer(m.bytes));
      std::optional<std::system_error> failure;
      try {
        co_await Within(ReadAll(*server));
      } catch (const std::system_error& e) {
        failure = e;
      }
      CO_ASSERT_TRUE(failure.has_value()) << "no error";
      EXPECT_EQ(failure->code(), make_error_code(m.close_code == ws::close_code::kTooBig
                                                     ? TransportError::kTooLarge
                                                     : TransportError::kProtocolError))
          << failure->what();
      EXPECT_NE(std::string(failure->what()).find(std::to_string(m.close_code)), std::string::npos)
          << failure->what();
      RawRead r = co_await Within(testing::ReadFrames(*raw.client, ws::Role::kClient, rest));
      CO_ASSERT_TRUE(r.close_code.has_value()) << r.decode_error;
      EXPECT_EQ(*r.close_code, m.close_code);
      EXPECT_TRUE(r.eof);
      // The stream stays failed.
      char c;
      try {
        co_await server->ReadSome(asio::buffer(&c, 1));
        ADD_FAILURE() << "read after failure did not throw";
      } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), failure->code());
      }
      const std::string more = "x";
      try {
        co_await server->WriteAll(asio::buffer(more));
        ADD_FAILURE() << "write after failure did not throw";
      } catch (const std::system_error&) {
      }
    });
  }
}

TEST(WsStreamTest, ClientRefusesMaskedServerFramesWith1002) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair raw = co_await TcpPair();
    auto [rest, client] = co_await (testing::RawServerHandshake(*raw.server) &&
                                    WsConnect(raw.client, testing::ClientOptions()));
    EXPECT_EQ(client->subprotocol(), "");  // the raw server chose none
    const std::string masked = ws::testing::Masked(Opcode::kBinary, true, "x");
    co_await raw.server->WriteAll(asio::buffer(masked));
    try {
      co_await Within(ReadAll(*client));
      ADD_FAILURE() << "no error";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), make_error_code(TransportError::kProtocolError));
      EXPECT_NE(std::string(e.what()).find("masked frame from a server"), std::string::npos);
    }
    RawRead r = co_await Within(testing::ReadFrames(*raw.server, ws::Role::kServer, rest));
    CO_ASSERT_TRUE(r.close_code.has_value()) << r.decode_error;
    EXPECT_EQ(*r.close_code, ws::close_code::kProtocolError);
  });
}

TEST(WsStreamTest, FramesRightAfterThe101AreNotLost) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair raw = co_await TcpPair();
    auto server_side = [&]() -> asio::awaitable<void> {
      http1::HeadAndRest req = co_await http1::ReadHead(*raw.server, 8192);
      ws::UpgradeCheck check = ws::CheckClientRequest(req.head, "/reitunnel");
      const std::string both = ws::BuildAcceptResponse(check.request.key, "reitunnel.v1") +
                               ws::EncodeFrame(Opcode::kBinary, true, "early", std::nullopt);
      co_await raw.server->WriteAll(asio::buffer(both));
    };
    auto client = co_await (server_side() && WsConnect(raw.client, testing::ClientOptions()));
    EXPECT_EQ(co_await Within(ReadN(*client, 5)), "early");
  });
}

TEST(WsStreamTest, PeerErrorCloseAndMissingCloseFrameAreErrors) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair raw = co_await TcpPair();
    auto [rest, server] = co_await (testing::RawClientHandshake(*raw.client) &&
                                    WsAccept(raw.server, testing::ServerOptions()));
    const std::string close =
        ws::testing::Masked(Opcode::kClose, true, ws::EncodeClosePayload(1011, "boom"));
    co_await raw.client->WriteAll(asio::buffer(close));
    try {
      co_await Within(ReadAll(*server));
      ADD_FAILURE() << "no error";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), make_error_code(TransportError::kPeerClosedWithError));
      EXPECT_NE(std::string(e.what()).find("1011 (internal error): boom"), std::string::npos)
          << e.what();
    }
    EXPECT_EQ(server->peer_close_code(), 1011);
    RawRead r = co_await Within(testing::ReadFrames(*raw.client, ws::Role::kClient, rest));
    CO_ASSERT_TRUE(r.close_code.has_value());
    EXPECT_EQ(*r.close_code, 1011);  // echoed

    ConnPair raw2 = co_await TcpPair();
    auto [rest2, server2] = co_await (testing::RawClientHandshake(*raw2.client) &&
                                      WsAccept(raw2.server, testing::ServerOptions()));
    const std::string partial = ws::testing::Masked(Opcode::kBinary, true, "abcdef").substr(0, 9);
    co_await raw2.client->WriteAll(asio::buffer(partial));
    raw2.client->ShutdownSend();
    std::string got;
    try {
      char buf[64];
      for (;;) {
        size_t n = co_await Within(server2->ReadSome(asio::buffer(buf)));
        if (n == 0) break;
        got.append(buf, n);
      }
      ADD_FAILURE() << "TCP EOF without a Close frame read as EOF";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), make_error_code(TransportError::kClosedWithoutCloseFrame));
    }
    EXPECT_EQ(got, "abc");  // what arrived before the cut was delivered
  });
}

TEST(WsStreamTest, KeepalivePingsAnIdleLink) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair raw = co_await TcpPair();
    WsServerOptions so = testing::ServerOptions();
    so.stream.ping_interval = std::chrono::milliseconds(50);
    auto [rest, server] =
        co_await (testing::RawClientHandshake(*raw.client) && WsAccept(raw.server, so));
    RawRead r =
        co_await Within(testing::ReadFrames(*raw.client, ws::Role::kClient, rest, false, true));
    CO_ASSERT_EQ(r.controls.size(), 1u);
    EXPECT_EQ(r.controls[0].first, K::kPing);
    // No pings after our Close.
    server->ShutdownSend();
    RawRead after = co_await Within(testing::ReadFrames(*raw.client, ws::Role::kClient, "", false));
    CO_ASSERT_TRUE(after.close_code.has_value());
    EXPECT_EQ(*after.close_code, 1000);
  });
}

TEST(WsStreamTest, PingFloodGetsBoundedPongs) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair raw = co_await TcpPair();
    auto [rest, server] = co_await (testing::RawClientHandshake(*raw.client) &&
                                    WsAccept(raw.server, testing::ServerOptions()));
    std::string flood;
    for (int i = 0; i < 2000; ++i) {
      flood += ws::testing::Masked(Opcode::kPing, true, "ping" + std::to_string(i));
    }
    flood += ws::testing::Masked(Opcode::kBinary, true, "data");
    flood += ws::testing::Masked(Opcode::kClose, true, ws::EncodeClosePayload(1000, ""));
    co_await raw.client->WriteAll(asio::buffer(flood));
    EXPECT_EQ(co_await Within(ReadAll(*server)), "data");
    server->ShutdownSend();
    RawRead r = co_await Within(testing::ReadFrames(*raw.client, ws::Role::kClient, rest));
    CO_ASSERT_FALSE(r.controls.empty());
    EXPECT_LE(r.controls.size(), 2000u);
    // The last ping is always answered.
    EXPECT_EQ(r.controls.back().second, "ping1999");
    EXPECT_TRUE(r.close_code.has_value());
  });
}

}  // namespace
}  // namespace reitunnel::transport
