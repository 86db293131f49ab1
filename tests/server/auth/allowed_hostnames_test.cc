#include "server/auth/allowed_hostnames.h"

#include "gtest/gtest.h"

namespace reitunnel::server {
namespace {

TEST(AllowedHostnamesTest, ExactNameCoversItselfOnly) {
  EXPECT_TRUE(HostnameCovers("app.example.com", "app.example.com"));
  EXPECT_FALSE(HostnameCovers("app.example.com", "x.app.example.com"));
  EXPECT_FALSE(HostnameCovers("app.example.com", "*.app.example.com"));
  EXPECT_FALSE(HostnameCovers("app.example.com", "example.com"));
}

TEST(AllowedHostnamesTest, WildcardCoversNamesAndWildcardsBelowIt) {
  EXPECT_TRUE(HostnameCovers("*.example.com", "a.example.com"));
  EXPECT_TRUE(HostnameCovers("*.example.com", "a.b.example.com"));
  EXPECT_TRUE(HostnameCovers("*.example.com", "*.example.com"));
  EXPECT_TRUE(HostnameCovers("*.example.com", "*.dev.example.com"));
  // Not the name itself, not a look-alike suffix, not a wider wildcard.
  EXPECT_FALSE(HostnameCovers("*.example.com", "example.com"));
  EXPECT_FALSE(HostnameCovers("*.example.com", "badexample.com"));
  EXPECT_FALSE(HostnameCovers("*.example.com", "*.com"));
  EXPECT_FALSE(HostnameCovers("*.dev.example.com", "*.example.com"));
}

TEST(AllowedHostnamesTest, PolicyRefusesWithTheAllowedList) {
  AgentInfo info;
  info.agent_id = "web-1";
  EXPECT_EQ(ApplyAllowedHostnames(info, "anything.test"), std::nullopt);  // no policy
  info.allowed_hostnames = {"app.example.com", "*.dev.example.com"};
  EXPECT_EQ(ApplyAllowedHostnames(info, "app.example.com"), std::nullopt);
  EXPECT_EQ(ApplyAllowedHostnames(info, "x.dev.example.com"), std::nullopt);
  std::optional<Refusal> r = ApplyAllowedHostnames(info, "other.example.com");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->code, wire::v1::REFUSAL_CODE_DENIED);
  EXPECT_EQ(r->reason,
            "agent \"web-1\" may not claim hostname other.example.com (allowed: "
            "app.example.com, *.dev.example.com)");
}

}  // namespace
}  // namespace reitunnel::server
