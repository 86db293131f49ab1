// SessionShard on a real two-worker pool: a data connection that lands on
// one worker is handed over (the fd moved with net::Conn::MoveTo, not
// proxied) to the worker whose visitor waits, and the relay runs there.
// The test thread plays the visitor and the agent with blocking sockets.

#include "server/session/session_shard.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "asio/post.hpp"
#include "common/net/buffered_stream.h"
#include "common/net/conn.h"
#include "common/net/framed_relay.h"
#include "common/runtime/worker_pool.h"
#include "common/wire/frame.h"
#include "gtest/gtest.h"
#include "server/session/active_visitors.h"
#include "tests/server/session/blocking_peer.h"

namespace reitunnel::server {
namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;
using testing::BlockingPeer;

bool Eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return pred();
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

std::string ChunkHeader(uint32_t v) {
  std::string h(4, '\0');
  for (int i = 0; i < 4; ++i) h[i] = static_cast<char>(v >> (24 - 8 * i));
  return h;
}

class SessionShardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_.Start();
    ShardSettings settings;
    settings.client_id = "agent-1";
    settings.framed = true;
    settings.data_connection_timeout = 10s;
    MakeShards(settings);
    TunnelInfo info;
    info.tunnel_id = "t1";
    info.name = "web";
    info.client_id = "agent-1";
    info.public_addr = "127.0.0.1:0";
    core_ = std::make_shared<TunnelCore>(info, 2);
  }

  void TearDown() override {
    for (auto& s : shards_) {
      if (s) OnWorker(s->worker(), [s] { s->Close(); });
    }
    pool_.Stop();
    pool_.Join();
    shards_[0].reset();
    shards_[1].reset();
  }

  void MakeShards(const ShardSettings& settings) {
    for (int w = 0; w < 2; ++w) {
      shards_[w] = std::make_shared<SessionShard>(
          w, pool_.executor(w), settings, nullptr, &active_,
          [this](uint32_t n) { requested_.fetch_add(n); });
    }
    for (auto& s : shards_) s->SetSiblings({shards_[0], shards_[1]});
  }

  // Runs fn on worker w and waits for it.
  void OnWorker(int w, std::function<void()> fn) {
    std::promise<void> done;
    asio::post(pool_.executor(w), [&] {
      fn();
      done.set_value();
    });
    ASSERT_EQ(done.get_future().wait_for(30s), std::future_status::ready);
  }

  // The tunnel's listener, on worker w only; returns its port.
  uint16_t StartTunnelOn(int w) {
    tcp::acceptor acc(pool_.context(w), {asio::ip::make_address("127.0.0.1"), 0});
    uint16_t port = acc.local_endpoint().port();
    auto holder = std::make_shared<tcp::acceptor>(std::move(acc));
    auto shard = shards_[w];
    auto core = core_;
    OnWorker(w, [shard, core, holder] { shard->StartTunnel(core, std::move(*holder)); });
    return port;
  }

  // A data connection whose server end is adopted by worker w; returns the
  // agent's end and (in *link) the server's.
  BlockingPeer NewLink(int w, Link* link) {
    int fd = -1;
    BlockingPeer agent = BlockingPeer::Pair(&fd);
    EXPECT_GE(fd, 0);
    tcp::socket s(pool_.context(w));
    s.assign(tcp::v4(), fd);
    *link = std::make_shared<net::BufferedStream>(std::make_shared<net::Conn>(std::move(s)));
    return agent;
  }

  void AddLinkOn(int w, Link link) {
    auto shard = shards_[w];
    OnWorker(w, [shard, link] { shard->AddLink(link); });
  }

  bool IsOpenOn(int w, const Link& link) {
    bool open = true;
    OnWorker(w, [&] { open = link->is_open(); });
    return open;
  }

  // The agent's side of one relay: reads StartRelay, then the visitor's
  // bytes up to their terminator, answers `reply` and ends its direction.
  void ServeAsAgent(BlockingPeer& agent, const std::string& visitor_addr,
                    const std::string& expect, const std::string& reply) {
    std::string header = agent.Recv(wire::kHeaderSize);
    ASSERT_EQ(header.size(), wire::kHeaderSize);
    wire::Header h;
    std::copy(header.begin(), header.end(), h.begin());
    auto len = wire::ParseHeader(h);
    ASSERT_TRUE(len.ok()) << len.status();
    std::string payload = agent.Recv(*len);
    auto frame = wire::ParsePayload(reinterpret_cast<const uint8_t*>(payload.data()), *len);
    ASSERT_TRUE(frame.ok()) << frame.status();
    ASSERT_TRUE(frame->has_start_relay());
    EXPECT_EQ(frame->start_relay().tunnel_id(), "t1");
    EXPECT_EQ(frame->start_relay().visitor_addr(), visitor_addr);
    std::string chunk = agent.Recv(4 + expect.size() + 4);
    EXPECT_EQ(chunk, ChunkHeader(static_cast<uint32_t>(expect.size())) + expect +
                         ChunkHeader(net::kChunkEnd));
    ASSERT_TRUE(agent.SendAll(ChunkHeader(static_cast<uint32_t>(reply.size())) + reply +
                              ChunkHeader(net::kChunkEnd)));
  }

  // The visitor sends `request` and half-closes; the agent answers `reply`,
  // which the visitor reads to its end.
  void Exchange(BlockingPeer& visitor, BlockingPeer& agent, const std::string& request,
                const std::string& reply) {
    ASSERT_TRUE(visitor.SendAll(request));
    visitor.ShutdownSend();
    ServeAsAgent(agent, visitor.LocalAddr(), request, reply);
    EXPECT_EQ(visitor.RecvToEnd(), reply);
  }

  void ExpectRelayedOn(int w, uint64_t in, uint64_t out) {
    auto& here = core_->slot(w);
    auto& there = core_->slot(1 - w);
    EXPECT_TRUE(Eventually([&] { return here.visitors_closed.Get() == 1; }));
    EXPECT_EQ(here.visitors_opened.Get(), 1u);
    EXPECT_EQ(here.relay.plain_to_link.Get(), in);
    EXPECT_EQ(here.relay.link_to_plain.Get(), out);
    EXPECT_EQ(there.visitors_opened.Get(), 0u);
    EXPECT_EQ(there.relay.plain_to_link.Get(), 0u);
    EXPECT_EQ(there.relay.link_to_plain.Get(), 0u);
    EXPECT_TRUE(Eventually([&] { return active_.count() == 0; }));
  }

  ActiveVisitors active_;
  runtime::WorkerPool pool_{2, "shard-test"};
  std::shared_ptr<SessionShard> shards_[2];
  std::shared_ptr<TunnelCore> core_;
  std::atomic<uint32_t> requested_{0};
};

TEST_F(SessionShardTest, LinkAddedOnOneWorkerGoesToTheVisitorWaitingOnTheOther) {
  const uint16_t port = StartTunnelOn(1);
  BlockingPeer visitor = BlockingPeer::Connect(port);
  ASSERT_TRUE(visitor.ok());
  ASSERT_TRUE(Eventually([&] { return shards_[1]->waiting_visitors() == 1; }));
  EXPECT_GE(requested_.load(), 1u);  // the agent was asked for a link

  Link link;
  BlockingPeer agent = NewLink(0, &link);
  AddLinkOn(0, link);
  // Worker 0 kept nothing: the fd moved to worker 1.
  EXPECT_FALSE(IsOpenOn(0, link));
  EXPECT_EQ(shards_[0]->idle_links(), 0);

  ASSERT_TRUE(visitor.SendAll("hello"));
  visitor.ShutdownSend();
  ServeAsAgent(agent, visitor.LocalAddr(), "hello", "world!");
  std::string how;
  EXPECT_EQ(visitor.RecvToEnd(&how), "world!");
  EXPECT_EQ(how, "eof");
  ExpectRelayedOn(1, 5, 6);
  // The link is reusable and idles where it served.
  EXPECT_TRUE(Eventually([&] { return shards_[1]->idle_links() == 1; }));
  EXPECT_EQ(shards_[0]->idle_links(), 0);
  EXPECT_EQ(shards_[1]->waiting_visitors(), 0);
}

TEST_F(SessionShardTest, VisitorWithoutIdleLinksTakesOneFromASibling) {
  Link link;
  BlockingPeer agent = NewLink(0, &link);
  AddLinkOn(0, link);
  ASSERT_EQ(shards_[0]->idle_links(), 1);  // nobody waited: it idles on worker 0

  const uint16_t port = StartTunnelOn(1);
  BlockingPeer visitor = BlockingPeer::Connect(port);
  ASSERT_TRUE(visitor.ok());
  Exchange(visitor, agent, "ping", "pong");
  ExpectRelayedOn(1, 4, 4);
  EXPECT_FALSE(IsOpenOn(0, link));
  EXPECT_EQ(shards_[0]->idle_links(), 0);
  EXPECT_TRUE(Eventually([&] { return shards_[1]->idle_links() == 1; }));
}

TEST_F(SessionShardTest, VisitorOnTheLinksOwnWorkerIsServedWithoutAHandOver) {
  const uint16_t port = StartTunnelOn(0);
  BlockingPeer visitor = BlockingPeer::Connect(port);
  ASSERT_TRUE(Eventually([&] { return shards_[0]->waiting_visitors() == 1; }));
  Link link;
  BlockingPeer agent = NewLink(0, &link);
  AddLinkOn(0, link);
  Exchange(visitor, agent, "abc", "defg");
  ExpectRelayedOn(0, 3, 4);
  EXPECT_TRUE(Eventually([&] { return shards_[0]->idle_links() == 1; }));
  EXPECT_TRUE(IsOpenOn(0, link));  // the same connection, back in the pool
}

// A routed (http, tls) tunnel: no listener of its own; a vhost listener
// hands the visitor over with the bytes it read, which reach the agent
// first, as one chunk, counted like relayed bytes.
TEST_F(SessionShardTest, RoutedVisitorsBytesReadForRoutingGoFirst) {
  auto shard = shards_[1];
  auto core = core_;
  OnWorker(1, [shard, core] { shard->StartRoutedTunnel(core); });
  Link link;
  BlockingPeer agent = NewLink(1, &link);
  AddLinkOn(1, link);

  int fd = -1;
  BlockingPeer visitor = BlockingPeer::Pair(&fd);
  ASSERT_GE(fd, 0);
  bool taken = false;
  const std::string head = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";
  OnWorker(1, [&] {
    tcp::socket s(pool_.context(1));
    s.assign(tcp::v4(), fd);
    taken = shard->ServeRouted(core, std::make_shared<net::Conn>(std::move(s), "203.0.113.7:9"),
                               head);
  });
  ASSERT_TRUE(taken);
  ASSERT_TRUE(visitor.SendAll("body"));
  visitor.ShutdownSend();

  std::string header = agent.Recv(wire::kHeaderSize);
  ASSERT_EQ(header.size(), wire::kHeaderSize);
  wire::Header h;
  std::copy(header.begin(), header.end(), h.begin());
  auto len = wire::ParseHeader(h);
  ASSERT_TRUE(len.ok());
  auto frame = wire::ParsePayload(reinterpret_cast<const uint8_t*>(agent.Recv(*len).data()), *len);
  ASSERT_TRUE(frame.ok());
  EXPECT_EQ(frame->start_relay().visitor_addr(), "203.0.113.7:9");
  EXPECT_EQ(agent.Recv(4 + head.size()), ChunkHeader(static_cast<uint32_t>(head.size())) + head);
  EXPECT_EQ(agent.Recv(4 + 4 + 4), ChunkHeader(4) + "body" + ChunkHeader(net::kChunkEnd));
  ASSERT_TRUE(agent.SendAll(ChunkHeader(2) + "ok" + ChunkHeader(net::kChunkEnd)));
  EXPECT_EQ(visitor.RecvToEnd(), "ok");
  ExpectRelayedOn(1, head.size() + 4, 2);

  // Draining: the tunnel takes no more routed visitors.
  OnWorker(1, [shard] { shard->StopAcceptingAll(); });
  int fd2 = -1;
  BlockingPeer late = BlockingPeer::Pair(&fd2);
  OnWorker(1, [&] {
    tcp::socket s(pool_.context(1));
    s.assign(tcp::v4(), fd2);
    taken = shard->ServeRouted(core, std::make_shared<net::Conn>(std::move(s), "x:1"), "GET");
  });
  EXPECT_FALSE(taken);
}

// Links that cannot change threads (WebSocket): the visitor moves instead.
class UnmovableLinksTest : public SessionShardTest {
 protected:
  void SetUp() override {
    SessionShardTest::SetUp();
    ShardSettings settings;
    settings.client_id = "agent-1";
    settings.framed = true;
    settings.links_movable = false;
    settings.data_connection_timeout = 10s;
    MakeShards(settings);
  }

  // Opened where it was accepted, relayed and closed where the link is.
  void ExpectMovedFromTo(int from, int to, uint64_t in, uint64_t out) {
    auto& accepted = core_->slot(from);
    auto& served = core_->slot(to);
    EXPECT_TRUE(Eventually([&] { return served.visitors_closed.Get() == 1; }));
    EXPECT_EQ(accepted.visitors_opened.Get(), 1u);
    EXPECT_EQ(accepted.visitors_closed.Get(), 0u);
    EXPECT_EQ(accepted.relay.plain_to_link.Get(), 0u);
    EXPECT_EQ(served.visitors_opened.Get(), 0u);
    EXPECT_EQ(served.relay.plain_to_link.Get(), in);
    EXPECT_EQ(served.relay.link_to_plain.Get(), out);
    EXPECT_TRUE(Eventually([&] { return active_.count() == 0; }));
  }
};

TEST_F(UnmovableLinksTest, WaitingVisitorMovesToTheWorkerWhereTheLinkArrived) {
  StartTunnelOn(0);
  const uint16_t port = StartTunnelOn(1);
  BlockingPeer visitor = BlockingPeer::Connect(port);
  ASSERT_TRUE(visitor.ok());
  ASSERT_TRUE(Eventually([&] { return shards_[1]->waiting_visitors() == 1; }));

  Link link;
  BlockingPeer agent = NewLink(0, &link);
  AddLinkOn(0, link);
  Exchange(visitor, agent, "hello", "world!");
  ExpectMovedFromTo(1, 0, 5, 6);
  EXPECT_TRUE(IsOpenOn(0, link));  // the link never left worker 0
  EXPECT_TRUE(Eventually([&] { return shards_[0]->idle_links() == 1; }));
  EXPECT_EQ(shards_[1]->waiting_visitors(), 0);
}

TEST_F(UnmovableLinksTest, VisitorGoesToASiblingWithAnIdleLink) {
  Link link;
  BlockingPeer agent = NewLink(0, &link);
  AddLinkOn(0, link);
  ASSERT_EQ(shards_[0]->idle_links(), 1);

  StartTunnelOn(0);
  const uint16_t port = StartTunnelOn(1);
  BlockingPeer visitor = BlockingPeer::Connect(port);
  ASSERT_TRUE(visitor.ok());
  Exchange(visitor, agent, "ping", "pong");
  ExpectMovedFromTo(1, 0, 4, 4);
  EXPECT_EQ(requested_.load(), 0u);  // an idle link was there: no new one asked for
  EXPECT_TRUE(IsOpenOn(0, link));
}

TEST_F(SessionShardTest, VisitorIsDroppedWhenNoLinkComesInTime) {
  ShardSettings settings;
  settings.client_id = "agent-1";
  settings.framed = true;
  settings.data_connection_timeout = 50ms;
  for (auto& s : shards_) OnWorker(s->worker(), [s] { s->Close(); });
  MakeShards(settings);
  const uint16_t port = StartTunnelOn(1);
  BlockingPeer visitor = BlockingPeer::Connect(port);
  ASSERT_TRUE(visitor.ok());
  std::string how;
  EXPECT_EQ(visitor.RecvToEnd(&how), "");
  EXPECT_TRUE(how == "eof" || how == "reset") << how;
  EXPECT_TRUE(Eventually([&] { return core_->slot(1).visitors_closed.Get() == 1; }));
  EXPECT_EQ(shards_[1]->waiting_visitors(), 0);
  EXPECT_TRUE(Eventually([&] { return active_.count() == 0; }));
}

}  // namespace
}  // namespace reitunnel::server
