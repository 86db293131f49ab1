// The raw relay (relay.h) over loopback: a plain TCP visitor relayed to a
// data connection that is plain TCP (splice) or TLS (copy).

#include "common/net/relay.h"

#include <string>
#include <system_error>

#include "asio/experimental/awaitable_operators.hpp"
#include "asio/io_context.hpp"
#include "gtest/gtest.h"
#include "tests/common/net/net_test_util.h"
#include "tests/common/net/test_cert.h"

namespace reitunnel::net {
namespace {

using namespace asio::experimental::awaitable_operators;
using testing::ConnPair;
using testing::ReadAll;
using testing::RunOn;
using testing::TcpPair;

class RelayTest : public ::testing::TestWithParam<bool> {
 protected:
  static void SetUpTestSuite() {
    tls_ = new testing::TlsContexts;
    ASSERT_TRUE(tls_->Init());
  }
  static void TearDownTestSuite() {
    delete tls_;
    tls_ = nullptr;
  }
  bool tls() const { return GetParam(); }
  // client: the far end (the agent); server: what Relay gets as `link`.
  asio::awaitable<ConnPair> MakeLink() {
    if (tls()) co_return co_await testing::TlsPair(*tls_);
    co_return co_await TcpPair();
  }

  static testing::TlsContexts* tls_;
};

testing::TlsContexts* RelayTest::tls_ = nullptr;

INSTANTIATE_TEST_SUITE_P(Links, RelayTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "TlsCopy" : "TcpSplice";
                         });

TEST_P(RelayTest, VisitorHalfClosesFirst) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair visitor = co_await TcpPair();
    ConnPair link = co_await MakeLink();
    RelayCounters counters;
    const RelaySinks sinks{&counters};
    auto peers = [&]() -> asio::awaitable<void> {
      const std::string req = "request";
      co_await visitor.client->WriteAll(asio::buffer(req));
      visitor.client->ShutdownSend();
      EXPECT_EQ(co_await ReadAll(*link.client), "request");
      // Half-closed: the answer still gets through.
      const std::string resp = "response";
      co_await link.client->WriteAll(asio::buffer(resp));
      link.client->ShutdownSend();
      EXPECT_EQ(co_await ReadAll(*visitor.client), "response");
    };
    co_await (Relay(*visitor.server, *link.server, sinks) && peers());
    EXPECT_FALSE(visitor.server->is_open());
    EXPECT_FALSE(link.server->is_open());
    EXPECT_EQ(counters.plain_to_link.Get(), 7u);
    EXPECT_EQ(counters.link_to_plain.Get(), 8u);
  });
}

TEST_P(RelayTest, LinkHalfClosesFirst) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair visitor = co_await TcpPair();
    ConnPair link = co_await MakeLink();
    const RelaySinks sinks{};
    auto peers = [&]() -> asio::awaitable<void> {
      const std::string banner = "SSH-2.0-test\r\n";
      co_await link.client->WriteAll(asio::buffer(banner));
      link.client->ShutdownSend();
      EXPECT_EQ(co_await ReadAll(*visitor.client), banner);
      const std::string bye = "bye";
      co_await visitor.client->WriteAll(asio::buffer(bye));
      visitor.client->ShutdownSend();
      EXPECT_EQ(co_await ReadAll(*link.client), "bye");
    };
    co_await (Relay(*visitor.server, *link.server, sinks) && peers());
  });
}

TEST_P(RelayTest, LargeTransfersBothWaysAtOnce) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair visitor = co_await TcpPair();
    ConnPair link = co_await MakeLink();
    RelayCounters counters;
    const RelaySinks sinks{&counters};
    constexpr size_t kBytes = 12 << 20;
    auto visitor_send = [&]() -> asio::awaitable<std::string> {
      std::string sha = co_await testing::SendBulk(*visitor.client, kBytes, 3);
      visitor.client->ShutdownSend();
      co_return sha;
    };
    auto agent_send = [&]() -> asio::awaitable<std::string> {
      std::string sha = co_await testing::SendBulk(*link.client, kBytes, 4);
      link.client->ShutdownSend();
      co_return sha;
    };
    auto [v_sent, a_sent, a_got, v_got] =
        co_await (Relay(*visitor.server, *link.server, sinks) && visitor_send() && agent_send() &&
                  testing::ReceiveBulk(*link.client) && testing::ReceiveBulk(*visitor.client));
    EXPECT_EQ(a_got.bytes, kBytes);
    EXPECT_EQ(v_got.bytes, kBytes);
    EXPECT_TRUE(a_got.sha256 == v_sent);
    EXPECT_TRUE(v_got.sha256 == a_sent);
    EXPECT_EQ(counters.plain_to_link.Get(), kBytes);
    EXPECT_EQ(counters.link_to_plain.Get(), kBytes);
  });
}

TEST_P(RelayTest, VisitorResetTearsDownBothSides) {
  asio::io_context io;
  RunOn(io, [&]() -> asio::awaitable<void> {
    ConnPair visitor = co_await TcpPair();
    ConnPair link = co_await MakeLink();
    const RelaySinks sinks{};
    bool relay_failed = false;
    auto relay = [&]() -> asio::awaitable<void> {
      try {
        co_await Relay(*visitor.server, *link.server, sinks);
      } catch (const std::exception&) {
        // A system_error, or asio's multiple_exceptions when the other
        // direction failed too as it was torn down.
        relay_failed = true;
      }
    };
    auto peers = [&]() -> asio::awaitable<void> {
      const std::string hi = "hi";
      co_await visitor.client->WriteAll(asio::buffer(hi));
      EXPECT_EQ(co_await transport::testing::ReadN(*link.client, 2), "hi");
      testing::Abort(*visitor.client);
      // The agent's end is closed (EOF or reset, either ends it).
      try {
        co_await ReadAll(*link.client);
      } catch (const std::system_error&) {
      }
    };
    co_await (relay() && peers());
    EXPECT_TRUE(relay_failed);
    EXPECT_FALSE(visitor.server->is_open());
    EXPECT_FALSE(link.server->is_open());
  });
}

}  // namespace
}  // namespace reitunnel::net
