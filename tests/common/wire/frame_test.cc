#include "common/wire/frame.h"

#include <random>

#include "gtest/gtest.h"

namespace reitunnel::wire {
namespace {

Header HeaderOf(const std::string& encoded) {
  Header h;
  std::copy_n(encoded.begin(), kHeaderSize, h.begin());
  return h;
}

TEST(FrameTest, RoundTrip) {
  v1::Frame f;
  f.mutable_open_tunnel()->set_name("web");
  f.mutable_open_tunnel()->set_remote_port(20080);
  auto enc = Encode(f);
  ASSERT_TRUE(enc.ok());
  auto len = ParseHeader(HeaderOf(*enc));
  ASSERT_TRUE(len.ok()) << len.status();
  ASSERT_EQ(*len + kHeaderSize, enc->size());
  auto back = ParsePayload(reinterpret_cast<const uint8_t*>(enc->data()) + kHeaderSize, *len);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->open_tunnel().name(), "web");
  EXPECT_EQ(back->open_tunnel().remote_port(), 20080u);
  EXPECT_STREQ(MessageName(*back), "open_tunnel");
}

TEST(FrameTest, RejectsBadMagicVersionReserved) {
  Header h = {'R', 'T', kProtocolVersion, 0, 0, 0, 0, 1};
  EXPECT_TRUE(ParseHeader(h).ok());
  Header bad_magic = h;
  bad_magic[0] = 'G';
  EXPECT_NE(ParseHeader(bad_magic).status().message().find("magic"), std::string::npos);
  Header bad_version = h;
  bad_version[2] = 9;
  EXPECT_NE(ParseHeader(bad_version).status().message().find("version 9"), std::string::npos);
  Header bad_reserved = h;
  bad_reserved[3] = 1;
  EXPECT_FALSE(ParseHeader(bad_reserved).ok());
}

TEST(FrameTest, RejectsOversizedAndEmptyLengthsBeforeAllocation) {
  Header huge = {'R', 'T', kProtocolVersion, 0, 0xff, 0xff, 0xff, 0xf0};
  auto st = ParseHeader(huge);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("exceeds"), std::string::npos);
  Header just_over = {'R', 'T', kProtocolVersion, 0, 0, 0, 0x40, 0x01};
  EXPECT_FALSE(ParseHeader(just_over).ok());
  Header at_limit = {'R', 'T', kProtocolVersion, 0, 0, 0, 0x40, 0x00};
  ASSERT_TRUE(ParseHeader(at_limit).ok());
  EXPECT_EQ(*ParseHeader(at_limit), kMaxPayload);
  Header empty = {'R', 'T', kProtocolVersion, 0, 0, 0, 0, 0};
  EXPECT_FALSE(ParseHeader(empty).ok());
}

TEST(FrameTest, RejectsGarbagePayloads) {
  const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
  EXPECT_FALSE(ParsePayload(garbage, sizeof(garbage)).ok());
  // Valid protobuf encoding of an unknown field only: parses, but no message.
  const uint8_t unknown_only[] = {0xf8, 0x07, 0x01};
  auto st = ParsePayload(unknown_only, sizeof(unknown_only));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("no known message"), std::string::npos);
}

TEST(FrameTest, RandomBytesNeverCrashAndRarelyParse) {
  std::mt19937 rng(42);
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> buf(rng() % 64 + 1);
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    if (ParsePayload(buf.data(), buf.size()).ok()) ++parsed;
    Header h;
    for (auto& b : h) b = static_cast<uint8_t>(rng());
    auto len = ParseHeader(h);
    if (len.ok()) {
      EXPECT_LE(*len, kMaxPayload);
    }
  }
  EXPECT_LT(parsed, 20000);
}

TEST(FrameTest, EncodeRefusesOversizedFrames) {
  v1::Frame f;
  f.mutable_refused()->set_reason(std::string(kMaxPayload + 1, 'x'));
  EXPECT_FALSE(Encode(f).ok());
}

}  // namespace
}  // namespace reitunnel::wire
