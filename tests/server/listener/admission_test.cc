#include "server/listener/admission.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace reitunnel::server {
namespace {

AdmissionLimits Limits(size_t max, size_t per_source, size_t reserved) {
  AdmissionLimits l;
  l.max_pending = max;
  l.max_pending_per_source = per_source;
  l.reserved_for_known = reserved;
  return l;
}

TEST(AdmissionTest, PerSourceLimit) {
  Admission adm(Limits(100, 2, 0));
  const char* why = nullptr;
  auto t1 = adm.Admit("10.0.0.1", false, &why);
  auto t2 = adm.Admit("10.0.0.1", false, &why);
  EXPECT_TRUE(t1);
  EXPECT_TRUE(t2);
  auto t3 = adm.Admit("10.0.0.1", false, &why);
  EXPECT_FALSE(t3);
  EXPECT_STREQ(why, "too many handshakes in progress from this address");
  // Other sources are unaffected; a finished handshake frees its slot.
  EXPECT_TRUE(adm.Admit("10.0.0.2", false, &why));
  t1.Release();
  EXPECT_TRUE(adm.Admit("10.0.0.1", false, &why));
}

TEST(AdmissionTest, GlobalLimitKeepsAShareForKnownSources) {
  Admission adm(Limits(4, 10, 2));
  const char* why = nullptr;
  std::vector<Admission::Ticket> held;
  // Strangers get max_pending - reserved_for_known = 2.
  for (int i = 0; i < 2; ++i) {
    held.push_back(adm.Admit("stranger-" + std::to_string(i), false, &why));
    EXPECT_TRUE(held.back());
  }
  EXPECT_FALSE(adm.Admit("stranger-9", false, &why));
  EXPECT_STREQ(why, "too many handshakes in progress");
  // An agent that already has a session still gets its data connections in.
  for (int i = 0; i < 2; ++i) {
    held.push_back(adm.Admit("known", true, &why));
    EXPECT_TRUE(held.back());
  }
  EXPECT_EQ(adm.pending(), 4u);
  EXPECT_FALSE(adm.Admit("known", true, &why));  // the global bound holds for everyone
  EXPECT_STREQ(why, "too many handshakes in progress");
  held.clear();
  EXPECT_EQ(adm.pending(), 0u);
}

TEST(AdmissionTest, ReserveAsLargeAsTheLimitLeavesNothingForStrangers) {
  Admission adm(Limits(2, 10, 5));
  const char* why = nullptr;
  EXPECT_FALSE(adm.Admit("stranger", false, &why));
  EXPECT_TRUE(adm.Admit("known", true, &why));
}

TEST(AdmissionTest, TicketsReleaseOnceWhenMovedOrDestroyed) {
  Admission adm(Limits(10, 10, 0));
  const char* why = nullptr;
  {
    Admission::Ticket a = adm.Admit("x", false, &why);
    Admission::Ticket b = std::move(a);
    EXPECT_FALSE(a);
    EXPECT_TRUE(b);
    EXPECT_EQ(adm.pending(), 1u);
    Admission::Ticket c;
    c = std::move(b);
    EXPECT_EQ(adm.pending(), 1u);
    c.Release();
    c.Release();
    EXPECT_EQ(adm.pending(), 0u);
    Admission::Ticket d = adm.Admit("x", false, &why);
    Admission::Ticket e = adm.Admit("y", false, &why);
    d = std::move(e);  // d's own slot is released
    EXPECT_EQ(adm.pending(), 1u);
  }
  EXPECT_EQ(adm.pending(), 0u);
}

TEST(AdmissionTest, NewLimitsApplyToTheNextAdmit) {
  Admission adm(Limits(10, 1, 0));
  const char* why = nullptr;
  auto a = adm.Admit("x", false, &why);
  EXPECT_FALSE(adm.Admit("x", false, &why));
  adm.SetLimits(Limits(10, 3, 0));
  EXPECT_TRUE(adm.Admit("x", false, &why));
}

// Every worker's acceptor admits through one instance.
TEST(AdmissionTest, ConcurrentAdmitsNeverExceedTheLimits) {
  Admission adm(Limits(8, 3, 0));
  std::atomic<int> max_seen{0};
  std::atomic<int> inside{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const char* why = nullptr;
        auto ticket = adm.Admit("src-" + std::to_string((t + i) % 3), false, &why);
        if (!ticket) continue;
        int now = inside.fetch_add(1) + 1;
        int prev = max_seen.load();
        while (now > prev && !max_seen.compare_exchange_weak(prev, now)) {
        }
        inside.fetch_sub(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(max_seen.load(), 8);
  EXPECT_EQ(adm.pending(), 0u);
}

}  // namespace
}  // namespace reitunnel::server
