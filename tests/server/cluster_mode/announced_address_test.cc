#include "server/cluster_mode/announced_address.h"

#include <sys/socket.h>

#include <vector>

#include "gtest/gtest.h"

namespace reitunnel::server {
namespace {

// A resolver that answers `ip` and records which families were asked for.
struct FakeResolver {
  std::optional<std::string> ip;
  std::vector<int> asked;
  HostAddressResolver fn() {
    return [this](int family) {
      asked.push_back(family);
      return ip;
    };
  }
};

TEST(AnnouncedAddressTest, SpecificAddressesAreAnnouncedAsBound) {
  FakeResolver r{"10.1.2.3", {}};
  for (const char* bound : {"127.0.0.2:7000", "10.0.0.5:7001", "[::1]:7000", "tunnel.local:7000"}) {
    EXPECT_EQ(AnnouncedAddress(bound, r.fn()), bound);
  }
  EXPECT_TRUE(r.asked.empty()) << "no lookup for a specific address";
}

TEST(AnnouncedAddressTest, IPv4WildcardBecomesTheHostsIPv4Address) {
  FakeResolver r{"10.1.2.3", {}};
  EXPECT_EQ(AnnouncedAddress("0.0.0.0:7001", r.fn()), "10.1.2.3:7001");
  ASSERT_EQ(r.asked.size(), 1u);
  EXPECT_EQ(r.asked[0], AF_INET);
}

TEST(AnnouncedAddressTest, IPv6OrEmptyWildcardTakesAnyFamilyAndBracketsIPv6) {
  FakeResolver v6{"fd00::5", {}};
  EXPECT_EQ(AnnouncedAddress("[::]:7001", v6.fn()), "[fd00::5]:7001");
  EXPECT_EQ(AnnouncedAddress(":7001", v6.fn()), "[fd00::5]:7001");
  EXPECT_EQ(v6.asked, (std::vector<int>{AF_UNSPEC, AF_UNSPEC}));
  FakeResolver v4{"192.168.7.9", {}};
  EXPECT_EQ(AnnouncedAddress("[::]:7000", v4.fn()), "192.168.7.9:7000");
}

TEST(AnnouncedAddressTest, UnresolvableHostKeepsTheBoundAddress) {
  FakeResolver none{std::nullopt, {}};
  EXPECT_EQ(AnnouncedAddress("0.0.0.0:7001", none.fn()), "0.0.0.0:7001");
  EXPECT_EQ(AnnouncedAddress("no-port", none.fn()), "no-port");
}

TEST(AnnouncedAddressTest, TheRealResolverGivesANumericAddressOrNothing) {
  std::optional<std::string> ip = ResolveOwnHostAddress(AF_INET);
  if (!ip) GTEST_SKIP() << "this host's name does not resolve";
  EXPECT_NE(AnnouncedAddress("0.0.0.0:7001"), "0.0.0.0:7001");
  EXPECT_EQ(ip->find_first_not_of("0123456789."), std::string::npos) << *ip;
}

}  // namespace
}  // namespace reitunnel::server
