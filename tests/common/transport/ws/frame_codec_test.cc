#include <random>
#include <string>
#include <vector>

#include "common/transport/ws/decoder.h"
#include "common/transport/ws/frame.h"
#include "gtest/gtest.h"
#include "tests/common/transport/ws/malformed_frames.h"

namespace reitunnel::transport::ws {
namespace {

using testing::kTestMask;
using testing::SmallLimits;

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

// Everything a decoder produced from one input.
struct Decoded {
  std::string data;
  std::vector<std::pair<FrameDecoder::Kind, std::string>> controls;
  uint16_t close_code = 0;
  uint16_t error_code = 0;
  std::string error;
};

// Feeds `in` in pieces of at most `piece` bytes, `max_data` per event.
Decoded DecodeAll(Role role, std::string in, size_t piece = SIZE_MAX, size_t max_data = 1 << 20,
                  DecoderLimits limits = {}) {
  FrameDecoder d(role, limits);
  Decoded out;
  size_t pos = 0;
  while (pos < in.size()) {
    const size_t end = std::min(in.size(), pos + std::min(piece, in.size() - pos));
    while (pos < end) {
      auto* p = reinterpret_cast<uint8_t*>(in.data() + pos);
      FrameDecoder::Event ev = d.Decode(p, end - pos, max_data);
      pos += ev.consumed;
      switch (ev.kind) {
        case FrameDecoder::Kind::kNeedMore:
          EXPECT_EQ(pos, end);
          break;
        case FrameDecoder::Kind::kData:
          EXPECT_LE(ev.size, max_data);
          out.data.append(reinterpret_cast<char*>(ev.data), ev.size);
          break;
        case FrameDecoder::Kind::kPing:
        case FrameDecoder::Kind::kPong:
          out.controls.emplace_back(ev.kind, std::string(ev.control_payload));
          break;
        case FrameDecoder::Kind::kClose:
          out.close_code = ev.close_code;
          return out;
        case FrameDecoder::Kind::kError:
          out.error_code = ev.error_code;
          out.error = ev.error;
          return out;
      }
    }
  }
  return out;
}

// RFC 6455 section 5.7 examples.
TEST(FrameCodecTest, Rfc6455Examples) {
  const std::string masked_hello =
      Bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  EXPECT_EQ(EncodeFrame(Opcode::kText, true, "Hello", kTestMask), masked_hello);
  EXPECT_EQ(EncodeFrame(Opcode::kText, true, "Hello", std::nullopt),
            Bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  EXPECT_EQ(EncodeFrame(Opcode::kText, false, "Hel", std::nullopt),
            Bytes({0x01, 0x03, 0x48, 0x65, 0x6c}));
  EXPECT_EQ(EncodeFrame(Opcode::kContinuation, true, "lo", std::nullopt),
            Bytes({0x80, 0x02, 0x6c, 0x6f}));
  EXPECT_EQ(EncodeFrame(Opcode::kPing, true, "Hello", std::nullopt),
            Bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  // Masked pong "Hello" from a client, decoded by a server.
  Decoded d = DecodeAll(Role::kServer,
                        Bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  ASSERT_EQ(d.controls.size(), 1u);
  EXPECT_EQ(d.controls[0].first, FrameDecoder::Kind::kPong);
  EXPECT_EQ(d.controls[0].second, "Hello");
  // 256 bytes and 64 KiB binary, unmasked: 16- and 64-bit lengths.
  uint8_t h[kMaxHeaderSize];
  ASSERT_EQ(EncodeHeader(Opcode::kBinary, true, 256, std::nullopt, h), 4u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(h), 4), Bytes({0x82, 0x7e, 0x01, 0x00}));
  ASSERT_EQ(EncodeHeader(Opcode::kBinary, true, 65536, std::nullopt, h), 10u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(h), 10),
            Bytes({0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
  ASSERT_EQ(EncodeHeader(Opcode::kBinary, true, 65535, kTestMask, h), 8u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(h), 8),
            Bytes({0x82, 0xfe, 0xff, 0xff, 0x37, 0xfa, 0x21, 0x3d}));
  ASSERT_EQ(EncodeHeader(Opcode::kBinary, true, 125, std::nullopt, h), 2u);
  EXPECT_EQ(h[1], 125);
}

TEST(FrameCodecTest, MaskIsItsOwnInverseAtAnyOffset) {
  std::mt19937 rng(7);
  std::string data(1000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  const MaskKey key = {0x01, 0x80, 0xfe, 0x33};
  std::string whole = data;
  ApplyMask(reinterpret_cast<uint8_t*>(whole.data()), whole.size(), key, 0);
  EXPECT_NE(whole, data);
  for (size_t i = 0; i < whole.size(); ++i) {
    ASSERT_EQ(static_cast<uint8_t>(whole[i]), static_cast<uint8_t>(data[i]) ^ key[i % 4]);
  }
  // Masking in pieces with running offsets equals masking at once.
  std::string pieces = data;
  size_t pos = 0;
  while (pos < pieces.size()) {
    const size_t n = std::min<size_t>(rng() % 37 + 1, pieces.size() - pos);
    ApplyMask(reinterpret_cast<uint8_t*>(pieces.data() + pos), n, key, pos);
    pos += n;
  }
  EXPECT_EQ(pieces, whole);
  ApplyMask(reinterpret_cast<uint8_t*>(pieces.data()), pieces.size(), key, 0);
  EXPECT_EQ(pieces, data);
}

TEST(FrameDecoderTest, SplitAnywhereSameResult) {
  std::string stream = testing::Masked(Opcode::kBinary, false, "hello ") +
                       testing::Masked(Opcode::kPing, true, "p1") +
                       testing::Masked(Opcode::kContinuation, false, std::string(300, 'w')) +
                       testing::Masked(Opcode::kContinuation, true, "") +
                       testing::Masked(Opcode::kBinary, true, std::string(70000, 'z')) +
                       testing::Masked(Opcode::kPong, true, "") +
                       testing::Masked(Opcode::kClose, true, EncodeClosePayload(1000, "bye"));
  const std::string expected = "hello " + std::string(300, 'w') + std::string(70000, 'z');
  for (size_t piece : {size_t{1}, size_t{2}, size_t{3}, size_t{13}, size_t{4096}, SIZE_MAX}) {
    for (size_t max_data : {size_t{1}, size_t{7}, size_t{1} << 20}) {
      if (piece == 1 && max_data == 1) continue;  // same as piece 1
      SCOPED_TRACE(::testing::Message() << "piece " << piece << " max_data " << max_data);
      Decoded d = DecodeAll(Role::kServer, stream, piece, max_data);
      EXPECT_EQ(d.error, "");
      EXPECT_EQ(d.data, expected);
      ASSERT_EQ(d.controls.size(), 2u);
      EXPECT_EQ(d.controls[0].second, "p1");
      EXPECT_EQ(d.controls[1].first, FrameDecoder::Kind::kPong);
      EXPECT_EQ(d.close_code, 1000);
    }
  }
}

TEST(FrameDecoderTest, ClientRoleReadsUnmaskedAndRefusesMasked) {
  Decoded ok = DecodeAll(Role::kClient, EncodeFrame(Opcode::kBinary, true, "abc", std::nullopt));
  EXPECT_EQ(ok.data, "abc");
  EXPECT_EQ(ok.error, "");
  Decoded bad = DecodeAll(Role::kClient, testing::Masked(Opcode::kBinary, true, "abc"));
  EXPECT_EQ(bad.error_code, close_code::kProtocolError);
  EXPECT_NE(bad.error.find("masked frame from a server"), std::string::npos);
}

TEST(FrameDecoderTest, EveryMalformedFrameGetsItsCloseCode) {
  for (const testing::MalformedFrame& m : testing::MalformedClientFrames()) {
    SCOPED_TRACE(m.name);
    for (size_t piece : {size_t{1}, SIZE_MAX}) {
      Decoded d = DecodeAll(Role::kServer, m.bytes, piece, 1 << 20, SmallLimits());
      EXPECT_EQ(d.error_code, m.close_code) << d.error;
      EXPECT_FALSE(d.error.empty());
    }
  }
}

TEST(FrameDecoderTest, ErrorIsStickyAndConsumesNothingMore) {
  FrameDecoder d(Role::kServer, {});
  std::string bad = EncodeFrame(Opcode::kBinary, true, "x", std::nullopt);
  FrameDecoder::Event ev = d.Decode(reinterpret_cast<uint8_t*>(bad.data()), bad.size(), 100);
  ASSERT_EQ(ev.kind, FrameDecoder::Kind::kError);
  std::string good = testing::Masked(Opcode::kBinary, true, "y");
  ev = d.Decode(reinterpret_cast<uint8_t*>(good.data()), good.size(), 100);
  EXPECT_EQ(ev.kind, FrameDecoder::Kind::kError);
  EXPECT_EQ(ev.consumed, 0u);
}

TEST(FrameDecoderTest, LimitsAtTheirBoundsAreAccepted) {
  DecoderLimits l = SmallLimits();
  Decoded frame =
      DecodeAll(Role::kServer, testing::Masked(Opcode::kBinary, true, std::string(1024, 'a')),
                SIZE_MAX, 1 << 20, l);
  EXPECT_EQ(frame.error, "");
  EXPECT_EQ(frame.data.size(), 1024u);
  std::string msg;
  for (int i = 0; i < 4; ++i) {
    msg += testing::Masked(i == 0 ? Opcode::kBinary : Opcode::kContinuation, i == 3,
                           std::string(1024, 'b'));
  }
  // The message limit counts per message: a second 4 KiB message is fine.
  msg += msg;
  Decoded d = DecodeAll(Role::kServer, msg, SIZE_MAX, 1 << 20, l);
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(d.data.size(), 8192u);
}

TEST(FrameDecoderTest, ControlFrameOf125BytesAndEmptyClose) {
  Decoded d = DecodeAll(Role::kServer, testing::Masked(Opcode::kPing, true, std::string(125, 'p')) +
                                           testing::Masked(Opcode::kClose, true, ""));
  ASSERT_EQ(d.controls.size(), 1u);
  EXPECT_EQ(d.controls[0].second.size(), 125u);
  EXPECT_EQ(d.close_code, close_code::kNoStatus);
}

TEST(FrameDecoderTest, RandomBytesNeverCrashAndStayBounded) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 3000; ++i) {
    std::string in(rng() % 300, '\0');
    for (char& c : in) c = static_cast<char>(rng());
    Decoded d =
        DecodeAll(i % 2 ? Role::kServer : Role::kClient, in, rng() % 20 + 1, rng() % 50 + 1);
    EXPECT_LE(d.data.size(), in.size());
  }
}

TEST(ClosePayloadTest, EncodesCodeAndCutsReasonOnUtf8Boundary) {
  EXPECT_EQ(EncodeClosePayload(1000, ""), Bytes({0x03, 0xe8}));
  EXPECT_EQ(EncodeClosePayload(1002, "bad"), Bytes({0x03, 0xea, 'b', 'a', 'd'}));
  std::string reason;
  for (int i = 0; i < 100; ++i) reason += "\xc3\xa9";  // 200 bytes of 'é'
  const std::string p = EncodeClosePayload(1000, reason);
  EXPECT_LE(p.size(), kMaxControlPayload);
  EXPECT_TRUE(IsValidUtf8(p.substr(2)));
  EXPECT_EQ((p.size() - 2) % 2, 0u);
}

TEST(Utf8Test, Rfc3629) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"));
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));   // U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xce"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

TEST(CloseCodeTest, WireValidity) {
  for (uint16_t ok : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999}) {
    EXPECT_TRUE(IsValidWireCloseCode(ok)) << ok;
  }
  for (uint16_t bad : {0, 999, 1004, 1005, 1006, 1012, 1015, 2999, 5000}) {
    EXPECT_FALSE(IsValidWireCloseCode(bad)) << bad;
  }
  EXPECT_EQ(DescribeCloseCode(1009), "1009 (message too big)");
  EXPECT_EQ(DescribeCloseCode(4000), "4000");
}

}  // namespace
}  // namespace reitunnel::transport::ws
