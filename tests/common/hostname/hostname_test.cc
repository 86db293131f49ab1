#include "common/hostname/hostname.h"

#include <string>

#include "gtest/gtest.h"

namespace reitunnel::hostname {
namespace {

TEST(HostnameTest, NormalizesCaseAndTrailingDot) {
  EXPECT_EQ(Normalize("Example.COM"), "example.com");
  EXPECT_EQ(Normalize("a.example.com."), "a.example.com");
  EXPECT_EQ(Normalize("localhost"), "localhost");
  EXPECT_EQ(Normalize("xn--bcher-kva.example"), "xn--bcher-kva.example");
  EXPECT_EQ(Normalize("a-b.c0.example"), "a-b.c0.example");
  EXPECT_EQ(Normalize("123.example.com"), "123.example.com");
}

TEST(HostnameTest, RejectsMalformedNames) {
  for (const char* bad : {"",
                          ".",
                          "..",
                          "a..b",
                          ".a",
                          "a.b..",
                          "-a.com",
                          "a-.com",
                          "a.-b.com",
                          "a_b.com",
                          "a b.com",
                          "a.com:80",
                          "*.a.com",
                          "a*.com",
                          "1.2.3.4",
                          "example.123",
                          "[::1]",
                          "::1",
                          "b\xc3\xbc"
                          "cher.de",
                          "a/b"}) {
    EXPECT_EQ(Normalize(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(Normalize(std::string("a\0b.com", 7)), std::nullopt);
}

TEST(HostnameTest, EnforcesLengthLimits) {
  std::string label63(63, 'a');
  EXPECT_TRUE(Normalize(label63 + ".com").has_value());
  EXPECT_FALSE(Normalize(std::string(64, 'a') + ".com").has_value());

  // 4 * 63 + 3 dots = 255 > 253; trim to exactly 253.
  std::string name = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  ASSERT_EQ(name.size(), 253u);
  EXPECT_TRUE(Normalize(name).has_value());
  EXPECT_TRUE(Normalize(name + ".").has_value()) << "the root dot is not counted";
  EXPECT_FALSE(Normalize(name + "b").has_value());
}

TEST(HostnameTest, IsCanonicalMatchesNormalize) {
  EXPECT_TRUE(IsCanonical("a.example.com"));
  EXPECT_FALSE(IsCanonical("A.example.com"));
  EXPECT_FALSE(IsCanonical("a.example.com."));
  EXPECT_FALSE(IsCanonical("1.2.3.4"));
}

}  // namespace
}  // namespace reitunnel::hostname
