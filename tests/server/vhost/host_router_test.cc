#include "server/vhost/host_router.h"

#include <atomic>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace reitunnel::server::vhost {
namespace {

TEST(HostPatternTest, ParsesExactAndWildcard) {
  absl::StatusOr<HostPattern> p = ParseHostPattern("App.Example.COM.");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->name, "app.example.com");
  EXPECT_FALSE(p->wildcard);
  p = ParseHostPattern("*.Example.com");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->name, "example.com");
  EXPECT_TRUE(p->wildcard);
  EXPECT_EQ(p->ToString(), "*.example.com");
  EXPECT_TRUE(ParseHostPattern("*.com").ok());
  EXPECT_TRUE(ParseHostPattern("xn--bcher-kva.example").ok());
}

TEST(HostPatternTest, RejectsInvalidPatterns) {
  const std::string label(63, 'a');
  const std::string name253 = label + "." + label + "." + label + "." + std::string(61, 'b');
  ASSERT_EQ(name253.size(), 253u);
  EXPECT_TRUE(ParseHostPattern(name253).ok());
  for (const std::string& bad :
       {std::string(""), std::string("*"), std::string("*."), std::string("**.a.com"),
        std::string("*.*.a.com"), std::string("a.*.com"), std::string("*a.com"),
        std::string("a*.com"), std::string("a.com*"), std::string("a_b.com"),
        std::string("1.2.3.4"), std::string("*.1.2.3.4"), std::string("a..com"),
        std::string("-a.com"),
        std::string("b\xc3\xbc"
                    "cher.de"),
        std::string("a.com:80"), name253 + "b", "*." + name253.substr(1)}) {
    absl::StatusOr<HostPattern> p = ParseHostPattern(bad);
    EXPECT_FALSE(p.ok()) << bad;
    if (!p.ok()) {
      EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  EXPECT_TRUE(ParseHostPattern("*." + name253.substr(2)).ok()) << "2 + 251 = 253 fits";
}

TEST(HostRouterTest, MostSpecificMatchWins) {
  HostRouter<int> r;
  ASSERT_TRUE(r.Claim("a.b.example.com", "o1", 1).ok());
  ASSERT_TRUE(r.Claim("*.b.example.com", "o2", 2).ok());
  ASSERT_TRUE(r.Claim("*.example.com", "o3", 3).ok());
  ASSERT_TRUE(r.Claim("*.com", "o4", 4).ok());
  EXPECT_EQ(r.Lookup("a.b.example.com"), 1);
  EXPECT_EQ(r.Lookup("x.b.example.com"), 2);
  EXPECT_EQ(r.Lookup("y.x.b.example.com"), 2);
  EXPECT_EQ(r.Lookup("b.example.com"), 3);
  EXPECT_EQ(r.Lookup("c.example.com"), 3);
  EXPECT_EQ(r.Lookup("deep.c.example.com"), 3);
  EXPECT_EQ(r.Lookup("example.com"), 4);
  EXPECT_EQ(r.Lookup("other.com"), 4);
  EXPECT_EQ(r.Lookup("com"), std::nullopt);
  EXPECT_EQ(r.Lookup("example.org"), std::nullopt);
  EXPECT_EQ(r.size(), 4u);
}

TEST(HostRouterTest, WildcardDoesNotMatchItsOwnSuffix) {
  HostRouter<int> r;
  ASSERT_TRUE(r.Claim("*.example.com", "o", 1).ok());
  EXPECT_EQ(r.Lookup("example.com"), std::nullopt);
  EXPECT_EQ(r.Lookup("notexample.com"), std::nullopt);
  EXPECT_EQ(r.Lookup("a.example.com"), 1);
  // Exact and wildcard entries for the same name are independent claims.
  ASSERT_TRUE(r.Claim("example.com", "other", 2).ok());
  EXPECT_EQ(r.Lookup("example.com"), 2);
  EXPECT_EQ(r.Lookup("a.example.com"), 1);
}

TEST(HostRouterTest, LookupNormalizesAndIgnoresInvalidHosts) {
  HostRouter<int> r;
  ASSERT_TRUE(r.Claim("App.Example.com", "o", 1).ok());
  ASSERT_TRUE(r.Claim("*.com", "o", 2).ok());
  EXPECT_EQ(r.Lookup("APP.EXAMPLE.COM"), 1);
  EXPECT_EQ(r.Lookup("app.example.com."), 1);
  for (const char* bad :
       {"", "a_b.com", "a..com", "[::1]", "::1", "a.com:80", "x y.com", "..com"}) {
    EXPECT_EQ(r.Lookup(bad), std::nullopt) << bad;
  }
}

TEST(HostRouterTest, OneOwnerPerHostname) {
  HostRouter<int> r;
  ASSERT_TRUE(r.Claim("shop.example", "session-1/web", 1).ok());
  absl::Status taken = r.Claim("SHOP.example.", "session-2/web", 2);
  EXPECT_EQ(taken.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(taken.message(), "hostname already in use");
  EXPECT_EQ(r.Lookup("shop.example"), 1);
  // The holder may update its own claim.
  EXPECT_TRUE(r.Claim("shop.example", "session-1/web", 10).ok());
  EXPECT_EQ(r.Lookup("shop.example"), 10);
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r.Claim("bad_name", "o", 1).code(), absl::StatusCode::kInvalidArgument);
}

TEST(HostRouterTest, Release) {
  HostRouter<int> r;
  ASSERT_TRUE(r.Claim("a.example", "o1", 1).ok());
  ASSERT_TRUE(r.Claim("*.example", "o1", 2).ok());
  ASSERT_TRUE(r.Claim("b.example", "o2", 3).ok());
  EXPECT_EQ(r.Release("a.example", "o2").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.Lookup("a.example"), 1);
  EXPECT_TRUE(r.Release("A.example", "o1").ok());
  EXPECT_EQ(r.Lookup("a.example"), 2) << "falls back to the wildcard";
  EXPECT_EQ(r.Release("a.example", "o1").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.Release("bad_name", "o1").code(), absl::StatusCode::kInvalidArgument);
  // Now another owner can take it.
  EXPECT_TRUE(r.Claim("a.example", "o2", 4).ok());
  EXPECT_EQ(r.ReleaseAll("o2"), 2u);
  EXPECT_EQ(r.ReleaseAll("o2"), 0u);
  EXPECT_EQ(r.Lookup("a.example"), 2);
  EXPECT_EQ(r.Lookup("b.example"), 2);
  EXPECT_EQ(r.ReleaseAll("o1"), 1u);
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.Lookup("a.example"), std::nullopt);
}

TEST(HostRouterTest, ManyHostnames) {
  HostRouter<int> r;
  constexpr int kCount = 3000;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(
        r.Claim("h" + std::to_string(i) + ".example", "owner" + std::to_string(i % 7), i).ok());
  }
  ASSERT_TRUE(r.Claim("*.example", "fallback", -1).ok());
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(r.Lookup("h" + std::to_string(i) + ".example"), i);
  EXPECT_EQ(r.Lookup("unknown.example"), -1);
  size_t released = r.ReleaseAll("owner3");
  EXPECT_EQ(released, static_cast<size_t>((kCount + 3) / 7));
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(r.Lookup("h" + std::to_string(i) + ".example"), i % 7 == 3 ? -1 : i);
  }
}

TEST(HostRouterTest, ReaderSeesChanges) {
  HostRouter<std::string> r;
  HostRouter<std::string>::Reader reader(r);
  EXPECT_EQ(reader.Lookup("a.example"), std::nullopt);
  ASSERT_TRUE(r.Claim("a.example", "o", "v1").ok());
  EXPECT_EQ(reader.Lookup("a.example"), "v1");
  ASSERT_TRUE(r.Claim("a.example", "o", "v2").ok());
  EXPECT_EQ(reader.Lookup("a.example"), "v2");
  ASSERT_TRUE(r.Release("a.example", "o").ok());
  EXPECT_EQ(reader.Lookup("a.example"), std::nullopt);
}

// Readers hammer Lookup (plain and through a Reader) while a writer claims
// and releases. A stable name must always resolve; a flapping one resolves
// to nothing or to its own value, never to another's. Also meant for TSan.
TEST(HostRouterTest, ConcurrentLookupsDuringClaims) {
  HostRouter<int> r;
  ASSERT_TRUE(r.Claim("stable.example", "s", 7).ok());
  ASSERT_TRUE(r.Claim("*.wild.example", "w", 8).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<long> lookups{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      HostRouter<int>::Reader reader(r);
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        auto look = [&](std::string_view h) { return t % 2 == 0 ? reader.Lookup(h) : r.Lookup(h); };
        if (look("stable.example") != 7) ++failures;
        if (look("x.wild.example") != 8) ++failures;
        std::optional<int> f = look("flap.example");
        if (f.has_value() && *f != 42) ++failures;
        std::optional<int> d = look("dyn5.example");
        if (d.has_value() && *d != 5) ++failures;
        n += 4;
      }
      lookups += n;
    });
  }
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(r.Claim("flap.example", "f", 42).ok());
    ASSERT_TRUE(r.Claim("dyn" + std::to_string(i % 10) + ".example", "d", i % 10).ok());
    ASSERT_TRUE(r.Release("flap.example", "f").ok());
    if (i % 100 == 99) r.ReleaseAll("d");
  }
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(lookups.load(), 0);
}

// Not a timing assertion (the machine is shared): prints rates so a change
// in cost shows up in the test log.
TEST(HostRouterBenchmark, LookupAndClaimRates) {
  using Clock = std::chrono::steady_clock;
  HostRouter<int> r;
  constexpr int kHosts = 1000;
  auto claim_start = Clock::now();
  for (int i = 0; i < kHosts; ++i)
    ASSERT_TRUE(r.Claim("h" + std::to_string(i) + ".example.com", "o", i).ok());
  double claim_us =
      std::chrono::duration<double, std::micro>(Clock::now() - claim_start).count() / kHosts;
  ASSERT_TRUE(r.Claim("*.example.com", "o", -1).ok());

  constexpr int kLookups = 200000;
  auto time = [&](auto&& lookup) {
    long sum = 0;
    auto start = Clock::now();
    for (int i = 0; i < kLookups; ++i)
      sum += *lookup(i % 2 ? "h500.example.com" : "miss.example.com");
    double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / kLookups;
    EXPECT_EQ(sum, (kLookups / 2) * 500L - kLookups / 2);
    return ns;
  };
  double plain_ns = time([&](const char* h) { return r.Lookup(h); });
  HostRouter<int>::Reader reader(r);
  double reader_ns = time([&](const char* h) { return reader.Lookup(h); });
  std::cout << "[ bench    ] claim " << claim_us << " us avg over " << kHosts
            << " (copy-on-write); lookup " << plain_ns << " ns; Reader lookup " << reader_ns
            << " ns\n";
}

}  // namespace
}  // namespace reitunnel::server::vhost
