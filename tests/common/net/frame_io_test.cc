// Frames over streams (frame_io.h): ReadFrame over loopback TCP, and
// FrameWriter against a stream whose writes complete only when the test
// says so (a peer that stops reading, made deterministic).

#include "common/net/frame_io.h"

#include <string>
#include <system_error>

#include "asio/experimental/as_tuple.hpp"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "asio/use_awaitable.hpp"
#include "common/net/spawn.h"
#include "common/wire/frame.h"
#include "gtest/gtest.h"
#include "tests/common/net/net_test_util.h"

namespace reitunnel::net {
namespace {

using testing::ConnPair;
using testing::CopyStream;
using testing::RunOn;
using testing::TcpPair;

wire::v1::Frame Ping(uint64_t seq) {
  wire::v1::Frame f;
  f.mutable_ping()->set_seq(seq);
  return f;
}

std::string Encoded(const wire::v1::Frame& f) {
  auto bytes = wire::Encode(f);
  EXPECT_TRUE(bytes.ok());
  return bytes.ok() ? *bytes : std::string();
}

// The error ReadFrame throws for `bytes` followed by EOF: "" for none,
// "protocol: <what>" or "io: <code>".
std::string ReadFrameError(const std::string& bytes, bool buffered) {
  asio::io_context io;
  std::string error;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    co_await p.client->WriteAll(asio::buffer(bytes));
    p.client->ShutdownSend();
    std::shared_ptr<transport::Stream> reader = p.server;
    if (buffered) reader = std::make_shared<BufferedStream>(reader);
    try {
      co_await ReadFrame(*reader);
    } catch (const ProtocolError& e) {
      error = std::string("protocol: ") + e.what();
    } catch (const std::system_error& e) {
      error = e.code() == asio::error::eof ? "io: eof" : "io: " + e.code().message();
    }
  });
  return error;
}

class ReadFrameTest : public ::testing::TestWithParam<bool> {};

INSTANTIATE_TEST_SUITE_P(Streams, ReadFrameTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "Buffered" : "Plain";
                         });

TEST_P(ReadFrameTest, BadHeadersAreProtocolErrors) {
  std::string good = Encoded(Ping(1));
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  EXPECT_EQ(ReadFrameError(bad_magic, GetParam()), "protocol: not a reitunnel frame (bad magic)");
  std::string bad_version = good;
  bad_version[2] = 9;
  EXPECT_NE(ReadFrameError(bad_version, GetParam()).find("protocol: unsupported protocol version 9"),
            std::string::npos);
  std::string reserved = good;
  reserved[3] = 1;
  EXPECT_EQ(ReadFrameError(reserved, GetParam()), "protocol: reserved header byte is not zero");
  // Longer than kMaxPayload: refused on the header, nothing more is read.
  std::string huge = good.substr(0, 4) + std::string("\x00\x01\x00\x01", 4);
  EXPECT_NE(ReadFrameError(huge, GetParam()).find("exceeds the limit"), std::string::npos);
  std::string empty = good.substr(0, 4) + std::string(4, '\0');
  EXPECT_EQ(ReadFrameError(empty, GetParam()), "protocol: empty frame");
}

TEST(BufferedStreamTest, ADrainedReaderHoldsNoBuffer) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    const std::string frames = Encoded(Ping(1)) + Encoded(Ping(2));
    co_await p.client->WriteAll(asio::buffer(frames));
    BufferedStream reader(p.server);
    EXPECT_EQ((co_await ReadFrame(reader)).ping().seq(), 1u);
    EXPECT_GT(reader.reserved_bytes(), 0u) << "the second frame is still buffered";
    EXPECT_EQ((co_await ReadFrame(reader)).ping().seq(), 2u);
    // Idle now (a pooled data connection after its StartRelay): the 4 KiB
    // read-ahead went back, or every idle visitor keeps it (what is left is
    // std::string's inline storage).
    EXPECT_LT(reader.reserved_bytes(), 64u);
  });
}

TEST_P(ReadFrameTest, BadPayloadsAreProtocolErrors) {
  // A header announcing 3 bytes of garbage that is no protobuf message.
  std::string garbage = std::string("RT\x01\x00\x00\x00\x00\x03", 8) + "\xff\xff\xff";
  EXPECT_EQ(ReadFrameError(garbage, GetParam()), "protocol: malformed frame payload");
  // A valid message with only an unknown field (1000, varint 0): no frame
  // type set.
  std::string unset =
      std::string("RT\x01\x00\x00\x00\x00\x03", 8) + std::string("\xc0\x3e\x00", 3);
  EXPECT_EQ(ReadFrameError(unset, GetParam()), "protocol: frame carries no known message");
}

TEST_P(ReadFrameTest, EarlyEofIsAnIoError) {
  EXPECT_EQ(ReadFrameError("", GetParam()), "io: eof");
  std::string good = Encoded(Ping(1));
  EXPECT_EQ(ReadFrameError(good.substr(0, 5), GetParam()), "io: eof");
  EXPECT_EQ(ReadFrameError(good.substr(0, good.size() - 1), GetParam()), "io: eof");
  EXPECT_EQ(ReadFrameError(good, GetParam()), "");
}

TEST(ReadFrameBufferedTest, SeveralFramesComeFromOneRead) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    auto counting = std::make_shared<CopyStream>(p.server);
    BufferedStream reader(counting);
    wire::v1::Frame start;
    start.mutable_start_relay()->set_tunnel_id("t1");
    const std::string bytes = Encoded(Ping(1)) + Encoded(start) + Encoded(Ping(3));
    co_await p.client->WriteAll(asio::buffer(bytes));
    wire::v1::Frame a = co_await ReadFrame(reader);
    wire::v1::Frame b = co_await ReadFrame(reader);
    wire::v1::Frame c = co_await ReadFrame(reader);
    EXPECT_EQ(a.ping().seq(), 1u);
    EXPECT_EQ(b.start_relay().tunnel_id(), "t1");
    EXPECT_EQ(c.ping().seq(), 3u);
    EXPECT_EQ(counting->reads(), 1);
    EXPECT_FALSE(reader.has_buffered_input());
    // Bytes past the last frame stay buffered for whoever reads next.
    const std::string more = Encoded(Ping(4)) + "tail";
    co_await p.client->WriteAll(asio::buffer(more));
    wire::v1::Frame d = co_await ReadFrame(reader);
    EXPECT_EQ(d.ping().seq(), 4u);
    EXPECT_TRUE(reader.has_buffered_input());
    EXPECT_EQ(reader.splice_fd(), -1);  // a splice would skip "tail"
    EXPECT_EQ(co_await transport::testing::ReadN(reader, 4), "tail");
    EXPECT_EQ(counting->reads(), 2);
  });
}

TEST(ReadFrameBufferedTest, FrameArrivingByteByByte) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    BufferedStream reader(std::make_shared<CopyStream>(p.server, 1));
    const std::string bytes = Encoded(Ping(77)) + Encoded(Ping(78));
    co_await p.client->WriteAll(asio::buffer(bytes));
    EXPECT_EQ((co_await ReadFrame(reader)).ping().seq(), 77u);
    EXPECT_EQ((co_await ReadFrame(reader)).ping().seq(), 78u);
  });
}

// A Stream whose WriteAll completes only once the test opens the gate.
class GatedStream final : public transport::Stream {
 public:
  explicit GatedStream(asio::any_io_executor ex) : ex_(ex), gate_(ex) {
    gate_.expires_at(asio::steady_timer::time_point::max());
  }

  asio::awaitable<size_t> ReadSome(asio::mutable_buffer) override { co_return 0; }
  asio::awaitable<void> WriteAll(asio::const_buffer buf) override {
    ++writes_;
    while (!open_ && !failed_ && !closed_) {
      co_await gate_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
    if (failed_ || closed_) throw std::system_error(asio::error::broken_pipe);
    written_.append(static_cast<const char*>(buf.data()), buf.size());
  }
  void ShutdownSend() override {}
  void Close() override {
    closed_ = true;
    gate_.cancel();
  }
  bool is_open() const override { return !closed_; }
  const std::string& peer() const override { return peer_; }
  const char* kind() const override { return "gated"; }
  asio::any_io_executor get_executor() override { return ex_; }

  void Open() {
    open_ = true;
    gate_.cancel();
  }
  void Fail() {
    failed_ = true;
    gate_.cancel();
  }
  const std::string& written() const { return written_; }
  int writes() const { return writes_; }

 private:
  asio::any_io_executor ex_;
  asio::steady_timer gate_;
  bool open_ = false;
  bool failed_ = false;
  bool closed_ = false;
  int writes_ = 0;
  std::string written_;
  std::string peer_ = "test";
};

TEST(FrameWriterTest, QueuedFramesAreWrittenInOrderInOneWrite) {
  asio::io_context io;
  auto stream = std::make_shared<GatedStream>(io.get_executor());
  auto writer = std::make_shared<FrameWriter>(io.get_executor(), stream);
  stream->Open();
  EXPECT_TRUE(writer->Send(Ping(1)));
  EXPECT_TRUE(writer->Send(Ping(2)));
  EXPECT_TRUE(writer->Send(Ping(3)));
  EXPECT_EQ(writer->queued_bytes(), 3 * Encoded(Ping(1)).size());
  io.run();
  EXPECT_EQ(stream->written(), Encoded(Ping(1)) + Encoded(Ping(2)) + Encoded(Ping(3)));
  EXPECT_EQ(stream->writes(), 1);
  EXPECT_EQ(writer->queued_bytes(), 0u);
  EXPECT_TRUE(stream->is_open());
}

TEST(FrameWriterTest, OverflowingTheQueueClosesTheStream) {
  asio::io_context io;
  auto stream = std::make_shared<GatedStream>(io.get_executor());
  const size_t frame = Encoded(Ping(1)).size();
  auto writer = std::make_shared<FrameWriter>(io.get_executor(), stream, 3 * frame + 1);
  EXPECT_TRUE(writer->Send(Ping(1)));
  io.poll();  // the drain is now blocked in a write the peer never reads
  EXPECT_EQ(stream->writes(), 1);
  EXPECT_TRUE(writer->Send(Ping(2)));
  EXPECT_TRUE(writer->Send(Ping(3)));
  EXPECT_FALSE(writer->overflowed());
  EXPECT_FALSE(writer->Send(Ping(4)));
  EXPECT_TRUE(writer->overflowed());
  EXPECT_FALSE(stream->is_open());
  EXPECT_EQ(writer->queued_bytes(), 0u);
  EXPECT_FALSE(writer->Send(Ping(5)));
  io.run();
  EXPECT_EQ(stream->written(), "");
}

TEST(FrameWriterTest, WaitBelowReturnsOnceTheQueueDrains) {
  asio::io_context io;
  auto stream = std::make_shared<GatedStream>(io.get_executor());
  auto writer = std::make_shared<FrameWriter>(io.get_executor(), stream);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(writer->Send(Ping(i)));
  bool below = false;
  auto wait = [&]() -> asio::awaitable<void> {
    co_await writer->WaitBelow(1);
    below = true;
  };
  Spawn(io, wait(), "wait_below");
  io.poll();
  EXPECT_FALSE(below);
  EXPECT_GT(writer->queued_bytes(), 0u);
  stream->Open();
  io.run();
  EXPECT_TRUE(below);
  EXPECT_EQ(writer->queued_bytes(), 0u);
  EXPECT_FALSE(writer->overflowed());
}

TEST(FrameWriterTest, WaitBelowReturnsWhenTheWriteFails) {
  asio::io_context io;
  auto stream = std::make_shared<GatedStream>(io.get_executor());
  auto writer = std::make_shared<FrameWriter>(io.get_executor(), stream);
  EXPECT_TRUE(writer->Send(Ping(1)));
  bool returned = false;
  auto wait = [&]() -> asio::awaitable<void> {
    co_await writer->WaitBelow(1);
    returned = true;
  };
  Spawn(io, wait(), "wait_below");
  io.poll();
  EXPECT_FALSE(returned);
  stream->Fail();
  io.run();
  EXPECT_TRUE(returned);
  EXPECT_FALSE(stream->is_open());
  EXPECT_FALSE(writer->Send(Ping(2)));
  EXPECT_FALSE(writer->overflowed());  // failed, not overflowed
}

TEST(FrameWriterTest, CloseWhenDrainedWritesEverythingFirst) {
  asio::io_context io;
  auto stream = std::make_shared<GatedStream>(io.get_executor());
  auto writer = std::make_shared<FrameWriter>(io.get_executor(), stream);
  EXPECT_TRUE(writer->Send(Ping(1)));
  writer->CloseWhenDrained();
  io.poll();
  EXPECT_TRUE(stream->is_open());
  stream->Open();
  io.run();
  EXPECT_EQ(stream->written(), Encoded(Ping(1)));
  EXPECT_FALSE(stream->is_open());

  auto idle = std::make_shared<GatedStream>(io.get_executor());
  auto idle_writer = std::make_shared<FrameWriter>(io.get_executor(), idle);
  idle_writer->CloseWhenDrained();
  EXPECT_FALSE(idle->is_open());
}

TEST(FrameWriterTest, FramesReachARealPeerInOrder) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair p = co_await TcpPair();
    auto writer = std::make_shared<FrameWriter>(p.client->get_executor(), p.client);
    for (uint64_t i = 0; i < 500; ++i) EXPECT_TRUE(writer->Send(Ping(i)));
    BufferedStream reader(p.server);
    for (uint64_t i = 0; i < 500; ++i) {
      wire::v1::Frame f = co_await ReadFrame(reader);
      CO_ASSERT_EQ(f.ping().seq(), i);
    }
    co_await writer->WaitBelow(1);
    EXPECT_EQ(writer->queued_bytes(), 0u);
  });
}

}  // namespace
}  // namespace reitunnel::net
