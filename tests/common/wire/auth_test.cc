#include "common/wire/auth.h"

#include "gtest/gtest.h"

namespace reitunnel::wire {
namespace {

TEST(AuthTest, RandomBytesAreFreshAndSized) {
  std::string a = RandomBytes(kNonceSize);
  std::string b = RandomBytes(kNonceSize);
  EXPECT_EQ(a.size(), kNonceSize);
  EXPECT_NE(a, b);
  EXPECT_EQ(RandomId(8).size(), 16u);
}

TEST(AuthTest, HmacMatchesRfc4231Case2) {
  std::string mac = HmacSha256("Jefe", "what do ya want for nothing?");
  const unsigned char want[] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
                                0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
                                0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
  EXPECT_EQ(mac, std::string(reinterpret_cast<const char*>(want), sizeof(want)));
}

TEST(AuthTest, MacBindsKeyNonceKindAndClient) {
  std::string nonce = RandomBytes(kNonceSize);
  std::string base = HandshakeMac("token", v1::CONNECTION_KIND_CONTROL, nonce, "");
  EXPECT_EQ(base.size(), kMacSize);
  EXPECT_EQ(base, HandshakeMac("token", v1::CONNECTION_KIND_CONTROL, nonce, ""));
  EXPECT_NE(base, HandshakeMac("tokem", v1::CONNECTION_KIND_CONTROL, nonce, ""));
  EXPECT_NE(base, HandshakeMac("token", v1::CONNECTION_KIND_DATA, nonce, ""));
  EXPECT_NE(base, HandshakeMac("token", v1::CONNECTION_KIND_CONTROL, RandomBytes(kNonceSize), ""));
  EXPECT_NE(base, HandshakeMac("token", v1::CONNECTION_KIND_CONTROL, nonce, "c1"));
  // The token itself must not appear in what goes on the wire.
  EXPECT_EQ(base.find("token"), std::string::npos);
}

TEST(AuthTest, SessionKeyNeedsTheToken) {
  std::string n = RandomBytes(kNonceSize);
  EXPECT_EQ(DeriveSessionKey("t", n, "c"), DeriveSessionKey("t", n, "c"));
  EXPECT_NE(DeriveSessionKey("t", n, "c"), DeriveSessionKey("u", n, "c"));
  EXPECT_NE(DeriveSessionKey("t", n, "c"), DeriveSessionKey("t", n, "d"));
}

TEST(AuthTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace reitunnel::wire
