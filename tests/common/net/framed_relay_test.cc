// The reusable data connection (framed_relay.h) over loopback: one side of
// the link is driven by FramedRelay, the other either by hand (chunks
// written and checked byte by byte) or by a second FramedRelay, as the
// agent runs it. Each test runs with the link as plain TCP (chunks spliced
// by count), behind a non-spliceable stream (copy path), and over TLS.

#include "common/net/framed_relay.h"

#include <string>

#include "asio/experimental/awaitable_operators.hpp"
#include "asio/io_context.hpp"
#include "common/net/frame_io.h"
#include "common/wire/frame.h"
#include "gtest/gtest.h"
#include "tests/common/net/net_test_util.h"
#include "tests/common/net/test_cert.h"

namespace reitunnel::net {
namespace {

using namespace asio::experimental::awaitable_operators;
using testing::Chunk;
using testing::ChunkedRead;
using testing::ChunkHeader;
using testing::ConnPair;
using testing::CopyStream;
using testing::EndsWithReset;
using testing::ReadAll;
using testing::ReadChunks;
using testing::RunOn;
using testing::TcpPair;

enum class LinkKind { kTcp, kCopy, kTls };

std::string KindName(const ::testing::TestParamInfo<LinkKind>& info) {
  switch (info.param) {
    case LinkKind::kTcp: return "Tcp";
    case LinkKind::kCopy: return "Copy";
    case LinkKind::kTls: return "Tls";
  }
  return "?";
}

// The server's end (`near`, what FramedRelay gets) and the agent's end of
// one data connection.
struct Link {
  std::shared_ptr<BufferedStream> near;
  std::shared_ptr<transport::Stream> far;
  std::shared_ptr<BufferedStream> far_buffered;  // for a FramedRelay at the far end
};

class FramedRelayTest : public ::testing::TestWithParam<LinkKind> {
 protected:
  static void SetUpTestSuite() {
    tls_ = new testing::TlsContexts;
    ASSERT_TRUE(tls_->Init());
  }
  static void TearDownTestSuite() {
    delete tls_;
    tls_ = nullptr;
  }

  asio::awaitable<Link> MakeLink(size_t max_read = 0) {
    // Not `cond ? co_await a : co_await b`: GCC 12 destroys that result twice.
    ConnPair p;
    if (GetParam() == LinkKind::kTls) {
      p = co_await testing::TlsPair(*tls_);
    } else {
      p = co_await TcpPair();
    }
    std::shared_ptr<transport::Stream> near = p.server;
    std::shared_ptr<transport::Stream> far = p.client;
    if (GetParam() == LinkKind::kCopy || max_read) {
      near = std::make_shared<CopyStream>(near, max_read);
      far = std::make_shared<CopyStream>(far);
    }
    Link link;
    link.near = std::make_shared<BufferedStream>(near);
    link.far = far;
    link.far_buffered = std::make_shared<BufferedStream>(far);
    co_return link;
  }

  static testing::TlsContexts* tls_;
};

testing::TlsContexts* FramedRelayTest::tls_ = nullptr;

INSTANTIATE_TEST_SUITE_P(Links, FramedRelayTest,
                         ::testing::Values(LinkKind::kTcp, LinkKind::kCopy, LinkKind::kTls),
                         KindName);

TEST_P(FramedRelayTest, VisitorHalfClosesFirstAndTheOtherDirectionKeepsFlowing) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair visitor = co_await TcpPair();  // client: the visitor; server: relayed
    Link link = co_await MakeLink();
    RelayCounters counters;
    const RelaySinks sinks{&counters};
    auto far_side = [&]() -> asio::awaitable<void> {
      const std::string hello = "hello";
      co_await visitor.client->WriteAll(asio::buffer(hello));
      visitor.client->ShutdownSend();
      ChunkedRead r = co_await ReadChunks(*link.far);
      EXPECT_EQ(r.data, "hello");
      EXPECT_EQ(r.terminator, kChunkEnd);
      // The visitor's FIN is in-band: the link itself stays open both ways.
      const std::string reply = Chunk("world") + Chunk("!") + ChunkHeader(kChunkEnd);
      co_await link.far->WriteAll(asio::buffer(reply));
      std::string got = co_await ReadAll(*visitor.client);
      EXPECT_EQ(got, "world!");
    };
    LinkState state = co_await (FramedRelay(*visitor.server, *link.near, sinks) && far_side());
    EXPECT_EQ(state, LinkState::kReusable);
    EXPECT_TRUE(link.near->is_open());
    EXPECT_FALSE(visitor.server->is_open());
    EXPECT_EQ(counters.plain_to_link.Get(), 5u);
    EXPECT_EQ(counters.link_to_plain.Get(), 6u);
    EXPECT_GE(counters.plain_to_link_events.Get(), 1u);
    EXPECT_GE(counters.link_to_plain_events.Get(), 1u);
  });
}

TEST_P(FramedRelayTest, LinkEndsFirstAndTheVisitorStillSends) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair visitor = co_await TcpPair();
    Link link = co_await MakeLink();
    const RelaySinks sinks{};
    auto far_side = [&]() -> asio::awaitable<void> {
      const std::string banner = Chunk("220 ready") + ChunkHeader(kChunkEnd);
      co_await link.far->WriteAll(asio::buffer(banner));
      // The visitor sees the service's FIN...
      std::string got = co_await ReadAll(*visitor.client);
      EXPECT_EQ(got, "220 ready");
      // ...and can still send.
      const std::string quit = "QUIT\r\n";
      co_await visitor.client->WriteAll(asio::buffer(quit));
      visitor.client->ShutdownSend();
      ChunkedRead r = co_await ReadChunks(*link.far);
      EXPECT_EQ(r.data, "QUIT\r\n");
      EXPECT_EQ(r.terminator, kChunkEnd);
    };
    LinkState state = co_await (FramedRelay(*visitor.server, *link.near, sinks) && far_side());
    EXPECT_EQ(state, LinkState::kReusable);
  });
}

TEST_P(FramedRelayTest, VisitorResetBecomesAResetTerminatorAndTheLinkIsReused) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    Link link = co_await MakeLink();
    const RelaySinks sinks{};
    {
      ConnPair visitor = co_await TcpPair();
      auto far_side = [&]() -> asio::awaitable<void> {
        const std::string x = "partial request";
        co_await visitor.client->WriteAll(asio::buffer(x));
        testing::Abort(*visitor.client);
        ChunkedRead r = co_await ReadChunks(*link.far);
        EXPECT_EQ(r.terminator, kChunkReset);
        // The agent aborts its own service and answers with a reset too.
        const std::string reset = ChunkHeader(kChunkReset);
        co_await link.far->WriteAll(asio::buffer(reset));
      };
      LinkState state = co_await (FramedRelay(*visitor.server, *link.near, sinks) && far_side());
      EXPECT_EQ(state, LinkState::kReusable);
    }
    // The next visitor on the same link.
    ConnPair visitor = co_await TcpPair();
    auto far_side = [&]() -> asio::awaitable<void> {
      const std::string ping = "ping";
      co_await visitor.client->WriteAll(asio::buffer(ping));
      visitor.client->ShutdownSend();
      ChunkedRead r = co_await ReadChunks(*link.far);
      EXPECT_EQ(r.data, "ping");
      EXPECT_EQ(r.terminator, kChunkEnd);
      const std::string pong = Chunk("pong") + ChunkHeader(kChunkEnd);
      co_await link.far->WriteAll(asio::buffer(pong));
      EXPECT_EQ(co_await ReadAll(*visitor.client), "pong");
    };
    LinkState state = co_await (FramedRelay(*visitor.server, *link.near, sinks) && far_side());
    EXPECT_EQ(state, LinkState::kReusable);
  });
}

TEST_P(FramedRelayTest, ResetFromTheLinkResetsTheVisitor) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair visitor = co_await TcpPair();
    Link link = co_await MakeLink();
    const RelaySinks sinks{};
    auto far_side = [&]() -> asio::awaitable<void> {
      const std::string data = Chunk("some bytes") + ChunkHeader(kChunkReset);
      co_await link.far->WriteAll(asio::buffer(data));
      std::string before;
      EXPECT_TRUE(co_await EndsWithReset(*visitor.client, &before));
      // What came before the reset may or may not have been read in time;
      // it is never anything else.
      EXPECT_EQ(std::string("some bytes").substr(0, before.size()), before);
      // Aborting the visitor ended the other direction with a reset too.
      ChunkedRead r = co_await ReadChunks(*link.far);
      EXPECT_EQ(r.terminator, kChunkReset);
    };
    LinkState state = co_await (FramedRelay(*visitor.server, *link.near, sinks) && far_side());
    EXPECT_EQ(state, LinkState::kReusable);
    EXPECT_TRUE(link.near->is_open());
  });
}

TEST_P(FramedRelayTest, BytesAfterTheTerminatorAreLeftForTheNextReader) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair visitor = co_await TcpPair();
    Link link = co_await MakeLink();
    const RelaySinks sinks{};
    wire::v1::Frame next;
    next.mutable_start_relay()->set_tunnel_id("t-next");
    auto encoded = wire::Encode(next);
    CO_ASSERT_TRUE(encoded.ok());
    auto far_side = [&]() -> asio::awaitable<void> {
      visitor.client->ShutdownSend();
      ChunkedRead r = co_await ReadChunks(*link.far);
      EXPECT_EQ(r.terminator, kChunkEnd);
      EXPECT_EQ(r.data, "");
      // The end of this stream and the next control frame in one write.
      const std::string bytes = Chunk("bye") + ChunkHeader(kChunkEnd) + *encoded;
      co_await link.far->WriteAll(asio::buffer(bytes));
      EXPECT_EQ(co_await ReadAll(*visitor.client), "bye");
    };
    LinkState state = co_await (FramedRelay(*visitor.server, *link.near, sinks) && far_side());
    EXPECT_EQ(state, LinkState::kReusable);
    wire::v1::Frame got = co_await ReadFrame(*link.near);
    EXPECT_EQ(got.start_relay().tunnel_id(), "t-next");
  });
}

TEST_P(FramedRelayTest, OversizedChunkBreaksTheLink) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair visitor = co_await TcpPair();
    Link link = co_await MakeLink();
    const RelaySinks sinks{};
    auto far_side = [&]() -> asio::awaitable<void> {
      const std::string bad = ChunkHeader(kMaxChunk + 1);
      co_await link.far->WriteAll(asio::buffer(bad));
      EXPECT_TRUE(co_await EndsWithReset(*visitor.client));
    };
    LinkState state = co_await (FramedRelay(*visitor.server, *link.near, sinks) && far_side());
    EXPECT_EQ(state, LinkState::kBroken);
    EXPECT_FALSE(link.near->is_open());
    EXPECT_FALSE(visitor.server->is_open());
  });
}

TEST_P(FramedRelayTest, LinkClosingInTheMiddleOfAChunkBreaksIt) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair visitor = co_await TcpPair();
    Link link = co_await MakeLink();
    const RelaySinks sinks{};
    auto far_side = [&]() -> asio::awaitable<void> {
      const std::string cut = ChunkHeader(100) + "only part";
      co_await link.far->WriteAll(asio::buffer(cut));
      link.far->ShutdownSend();
      std::string before;
      EXPECT_TRUE(co_await EndsWithReset(*visitor.client, &before));
      EXPECT_EQ(std::string("only part").substr(0, before.size()), before);
    };
    LinkState state = co_await (FramedRelay(*visitor.server, *link.near, sinks) && far_side());
    EXPECT_EQ(state, LinkState::kBroken);
    EXPECT_FALSE(link.near->is_open());
  });
}

TEST_P(FramedRelayTest, ChunkOfTheMaximumSizeIsRelayed) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair visitor = co_await TcpPair();
    Link link = co_await MakeLink();
    const RelaySinks sinks{};
    std::string big(kMaxChunk, '\0');
    uint64_t seed = 7;
    testing::FillPseudoRandom(&seed, big.data(), big.size());
    auto far_side = [&]() -> asio::awaitable<void> {
      auto send = [&]() -> asio::awaitable<void> {
        const std::string head = ChunkHeader(kMaxChunk);
        co_await link.far->WriteAll(asio::buffer(head));
        co_await link.far->WriteAll(asio::buffer(big));
        const std::string end = ChunkHeader(kChunkEnd);
        co_await link.far->WriteAll(asio::buffer(end));
      };
      auto receive = [&]() -> asio::awaitable<std::string> {
        co_return co_await ReadAll(*visitor.client);
      };
      std::string got = co_await (send() && receive());
      EXPECT_TRUE(got == big) << "got " << got.size() << " bytes";
      visitor.client->ShutdownSend();
      ChunkedRead r = co_await ReadChunks(*link.far);
      EXPECT_EQ(r.terminator, kChunkEnd);
    };
    LinkState state = co_await (FramedRelay(*visitor.server, *link.near, sinks) && far_side());
    EXPECT_EQ(state, LinkState::kReusable);
  });
}

// Both ends of a link run FramedRelay, as the server and the agent do: a
// visitor and a service exchange bulk data in both directions at once,
// then the link carries the next pair.
TEST_P(FramedRelayTest, LargeTransfersBothWaysThroughTwoRelaysThenReuse) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    Link link = co_await MakeLink();
    constexpr size_t kBytes = 12 << 20;
    for (int round = 0; round < 2; ++round) {
      ConnPair visitor = co_await TcpPair();
      ConnPair service = co_await TcpPair();  // server: the agent's end
      RelayCounters server_counters;
      RelayCounters agent_counters;
      const RelaySinks server_sinks{&server_counters};
      const RelaySinks agent_sinks{&agent_counters};
      FramedRelayOptions agent_options;
      agent_options.plain_read_first = false;
      const size_t bytes = round == 0 ? kBytes : 1000;
      auto visitor_send = [&]() -> asio::awaitable<std::string> {
        std::string sha = co_await testing::SendBulk(*visitor.client, bytes, 11 + round);
        visitor.client->ShutdownSend();
        co_return sha;
      };
      auto service_send = [&]() -> asio::awaitable<std::string> {
        std::string sha = co_await testing::SendBulk(*service.client, bytes, 23 + round);
        service.client->ShutdownSend();
        co_return sha;
      };
      auto [server_state, agent_state, v_sent, s_sent, s_got, v_got] =
          co_await (FramedRelay(*visitor.server, *link.near, server_sinks) &&
                    FramedRelay(*service.server, *link.far_buffered, agent_sinks,
                                agent_options) &&
                    visitor_send() && service_send() &&
                    testing::ReceiveBulk(*service.client) &&
                    testing::ReceiveBulk(*visitor.client));
      EXPECT_EQ(server_state, LinkState::kReusable);
      EXPECT_EQ(agent_state, LinkState::kReusable);
      EXPECT_EQ(s_got.bytes, bytes);
      EXPECT_EQ(v_got.bytes, bytes);
      EXPECT_TRUE(s_got.sha256 == v_sent);
      EXPECT_TRUE(v_got.sha256 == s_sent);
      EXPECT_EQ(server_counters.plain_to_link.Get(), bytes);
      EXPECT_EQ(server_counters.link_to_plain.Get(), bytes);
      EXPECT_EQ(agent_counters.plain_to_link.Get(), bytes);
      EXPECT_EQ(agent_counters.link_to_plain.Get(), bytes);
      EXPECT_FALSE(link.near->has_buffered_input());
      EXPECT_FALSE(link.far_buffered->has_buffered_input());
    }
  });
}

// An RST from either plain peer reaches the other plain peer as an RST,
// and the link survives both.
TEST_P(FramedRelayTest, ResetsCrossTwoRelaysBothWays) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    Link link = co_await MakeLink();
    const bool orders[] = {true, false};
    for (bool visitor_resets : orders) {
      ConnPair visitor = co_await TcpPair();
      ConnPair service = co_await TcpPair();
      const RelaySinks sinks{};
      FramedRelayOptions agent_options;
      agent_options.plain_read_first = false;
      // Returns a value: asio 1.22 cannot join a tuple with a void awaitable.
      auto peers = [&]() -> asio::awaitable<bool> {
        // Bytes first, so both relays are well into the relay.
        const std::string hi = "hi";
        co_await visitor.client->WriteAll(asio::buffer(hi));
        std::string got = co_await transport::testing::ReadN(*service.client, 2);
        EXPECT_EQ(got, "hi");
        ConnPair& resetting = visitor_resets ? visitor : service;
        ConnPair& other = visitor_resets ? service : visitor;
        testing::Abort(*resetting.client);
        EXPECT_TRUE(co_await EndsWithReset(*other.client))
            << (visitor_resets ? "service" : "visitor") << " saw an orderly end, not a reset";
        co_return true;
      };
      auto [server_state, agent_state, peers_done] =
          co_await (FramedRelay(*visitor.server, *link.near, sinks) &&
                    FramedRelay(*service.server, *link.far_buffered, sinks, agent_options) &&
                    peers());
      EXPECT_EQ(server_state, LinkState::kReusable) << "visitor_resets=" << visitor_resets;
      EXPECT_EQ(agent_state, LinkState::kReusable) << "visitor_resets=" << visitor_resets;
      EXPECT_TRUE(peers_done);
    }
    // Still good for an ordinary exchange.
    ConnPair visitor = co_await TcpPair();
    ConnPair service = co_await TcpPair();
    const RelaySinks sinks{};
    auto peers = [&]() -> asio::awaitable<bool> {
      const std::string q = "question";
      co_await visitor.client->WriteAll(asio::buffer(q));
      visitor.client->ShutdownSend();
      EXPECT_EQ(co_await ReadAll(*service.client), "question");
      const std::string a = "answer";
      co_await service.client->WriteAll(asio::buffer(a));
      service.client->ShutdownSend();
      EXPECT_EQ(co_await ReadAll(*visitor.client), "answer");
      co_return true;
    };
    auto [server_state, agent_state, peers_done] =
        co_await (FramedRelay(*visitor.server, *link.near, sinks) &&
                  FramedRelay(*service.server, *link.far_buffered, sinks) && peers());
    EXPECT_EQ(server_state, LinkState::kReusable);
    EXPECT_EQ(agent_state, LinkState::kReusable);
    EXPECT_TRUE(peers_done);
  });
}

TEST_P(FramedRelayTest, RejectSendsAResetAndConsumesTheOtherDirection) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    Link link = co_await MakeLink();
    wire::v1::Frame next;
    next.mutable_ping()->set_seq(42);
    auto encoded = wire::Encode(next);
    CO_ASSERT_TRUE(encoded.ok());
    auto far_side = [&]() -> asio::awaitable<void> {
      // The server had already started relaying the visitor's request.
      const std::string request = Chunk("GET / HTTP/1.1\r\n\r\n") + ChunkHeader(kChunkEnd);
      co_await link.far->WriteAll(asio::buffer(request));
      ChunkedRead r = co_await ReadChunks(*link.far);
      EXPECT_EQ(r.terminator, kChunkReset);
      EXPECT_EQ(r.data, "");
      co_await link.far->WriteAll(asio::buffer(*encoded));
    };
    LinkState state = co_await (FramedReject(*link.near) && far_side());
    EXPECT_EQ(state, LinkState::kReusable);
    wire::v1::Frame got = co_await ReadFrame(*link.near);
    EXPECT_EQ(got.ping().seq(), 42u);
  });
}

TEST_P(FramedRelayTest, AnswerSendsTheReplyAndAnEndThenConsumesTheOtherDirection) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    Link link = co_await MakeLink();
    wire::v1::Frame next;
    next.mutable_ping()->set_seq(7);
    auto encoded = wire::Encode(next);
    CO_ASSERT_TRUE(encoded.ok());
    const std::string reply = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
    auto far_side = [&]() -> asio::awaitable<void> {
      const std::string request = Chunk("POST / HTTP/1.1\r\n\r\n") + Chunk(std::string(5000, 'b'));
      co_await link.far->WriteAll(asio::buffer(request));
      ChunkedRead r = co_await ReadChunks(*link.far);
      EXPECT_EQ(r.terminator, kChunkEnd);
      EXPECT_EQ(r.data, reply);
      // The visitor closes only after reading the answer.
      const std::string end = ChunkHeader(kChunkEnd);
      co_await link.far->WriteAll(asio::buffer(end));
      co_await link.far->WriteAll(asio::buffer(*encoded));
    };
    LinkState state = co_await (FramedAnswer(*link.near, reply) && far_side());
    EXPECT_EQ(state, LinkState::kReusable);
    wire::v1::Frame got = co_await ReadFrame(*link.near);
    EXPECT_EQ(got.ping().seq(), 7u);
  });
}

TEST_P(FramedRelayTest, RejectOnABrokenStreamClosesTheLink) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    Link link = co_await MakeLink();
    auto far_side = [&]() -> asio::awaitable<void> {
      const std::string bad = Chunk("x") + ChunkHeader(kMaxChunk + 100);
      co_await link.far->WriteAll(asio::buffer(bad));
    };
    LinkState state = co_await (FramedReject(*link.near) && far_side());
    EXPECT_EQ(state, LinkState::kBroken);
    EXPECT_FALSE(link.near->is_open());
  });
}

// Reads of one byte (or three) split every chunk header across reads.
class FramedRelaySplitTest : public ::testing::TestWithParam<size_t> {};

INSTANTIATE_TEST_SUITE_P(ReadSizes, FramedRelaySplitTest, ::testing::Values(1, 3, 5));

TEST_P(FramedRelaySplitTest, HeadersSplitAcrossReads) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair visitor = co_await TcpPair();
    ConnPair link_pair = co_await TcpPair();
    auto near = std::make_shared<BufferedStream>(
        std::make_shared<CopyStream>(link_pair.server, GetParam()));
    auto far = link_pair.client;
    const RelaySinks sinks{};
    auto far_side = [&]() -> asio::awaitable<void> {
      const std::string data =
          Chunk("abc") + Chunk("defgh") + Chunk("i") + ChunkHeader(kChunkEnd);
      co_await far->WriteAll(asio::buffer(data));
      EXPECT_EQ(co_await ReadAll(*visitor.client), "abcdefghi");
      visitor.client->ShutdownSend();
      ChunkedRead r = co_await ReadChunks(*far);
      EXPECT_EQ(r.terminator, kChunkEnd);
    };
    LinkState state = co_await (FramedRelay(*visitor.server, *near, sinks) && far_side());
    EXPECT_EQ(state, LinkState::kReusable);
  });
}

}  // namespace
}  // namespace reitunnel::net
