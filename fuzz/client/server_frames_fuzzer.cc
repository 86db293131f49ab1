// The agent (client/agent.h) fed arbitrary server bytes: each input runs a
// real Agent in process against a fake server on loopback, on one event
// loop driven by this thread; the fake server's side of the conversation is
// the input.
//
// Input: a mode byte, then chunks, each [u16 big-endian length][bytes]
// (each chunk is one write; a short last chunk is sent as it is).
//   mode & 3 == 0  raw: the chunks are everything the server says on the
//                  control connection, Challenge included.
//   mode & 3 == 1  control: a proper Challenge and Welcome first, then the
//                  chunks (TunnelOpened, NeedDataConns, Goodbye, ...).
//   mode & 3 == 2  data link: a proper session; the first data connection
//                  the agent opens gets a Challenge, then the chunks.
//   mode & 3 == 3  relay: as data link, but the link is accepted
//                  (DataReady), then told StartRelay for the agent's tunnel
//                  (whose local service echoes), then the chunks are the
//                  server's side of the framed relay.
// Then the fake server closes everything and the agent is stopped.
// Invariants: no crash or leak (ASan/LSan), and the agent stops.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "asio/co_spawn.hpp"
#include "asio/detached.hpp"
#include "asio/experimental/as_tuple.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/read.hpp"
#include "asio/use_awaitable.hpp"
#include "asio/write.hpp"
#include "client/agent.h"
#include "common/log/log.h"
#include "common/runtime/worker_pool.h"
#include "common/wire/auth.h"
#include "common/wire/frame.h"
#include "fuzz/fuzz_check.h"
#include "reitunnel/config/v1/agent.pb.h"

namespace {

namespace wire = reitunnel::wire;
using asio::ip::tcp;
using wire::v1::Frame;

constexpr char kToken[] = "fuzz-token-0123456789abcdef";
constexpr size_t kMaxChunks = 64;

std::string Encode(const Frame& f) {
  auto e = wire::Encode(f);
  FUZZ_CHECK(e.ok());
  return *e;
}

asio::awaitable<Frame> Read(tcp::socket& sock) {
  wire::Header h;
  co_await asio::async_read(sock, asio::buffer(h.data(), h.size()), asio::use_awaitable);
  auto len = wire::ParseHeader(h);
  if (!len.ok()) throw std::runtime_error("bad header from agent");
  std::string payload(*len, '\0');
  co_await asio::async_read(sock, asio::buffer(payload), asio::use_awaitable);
  auto f = wire::ParsePayload(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
  if (!f.ok()) throw std::runtime_error("bad frame from agent");
  co_return *f;
}

asio::awaitable<void> Write(tcp::socket& sock, const std::string& bytes) {
  co_await asio::async_write(sock, asio::buffer(bytes), asio::use_awaitable);
}

std::vector<std::string> Chunks(const uint8_t* data, size_t size) {
  std::vector<std::string> out;
  while (size > 0 && out.size() < kMaxChunks) {
    size_t len = size >= 2 ? (size_t{data[0]} << 8 | data[1]) : size;
    size_t skip = size >= 2 ? 2 : 0;
    len = std::min(len, size - skip);
    out.emplace_back(reinterpret_cast<const char*>(data + skip), len);
    data += skip + len;
    size -= skip + len;
  }
  return out;
}

struct Run {
  explicit Run(asio::io_context& io)
      : server(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        service(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
  tcp::acceptor server;   // the fake reitunneld
  tcp::acceptor service;  // the agent's local service (echo)
  std::vector<std::shared_ptr<tcp::socket>> sockets;
  bool script_done = false;
  bool agent_done = false;

  void CloseAll() {
    asio::error_code ec;
    server.close(ec);
    service.close(ec);
    for (auto& s : sockets) s->close(ec);
  }
};

asio::awaitable<std::shared_ptr<tcp::socket>> Accept(Run& r, tcp::acceptor& a) {
  auto s = std::make_shared<tcp::socket>(co_await a.async_accept(asio::use_awaitable));
  r.sockets.push_back(s);
  co_return s;
}

asio::awaitable<void> Echo(std::shared_ptr<tcp::socket> s) {
  char buf[4096];
  for (;;) {
    auto [ec, n] = co_await s->async_read_some(asio::buffer(buf),
                                               asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    auto [wec, wn] = co_await asio::async_write(*s, asio::buffer(buf, n),
                                                asio::experimental::as_tuple(asio::use_awaitable));
    if (wec) co_return;
  }
}

asio::awaitable<void> ServeLocal(Run& r) {
  for (;;) {
    auto [ec, s] = co_await r.service.async_accept(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    auto sp = std::make_shared<tcp::socket>(std::move(s));
    r.sockets.push_back(sp);
    asio::co_spawn(r.service.get_executor(), Echo(sp), asio::detached);
  }
}

// The fake server's script for one input.
asio::awaitable<void> Script(Run& r, int mode, std::vector<std::string> chunks) {
  try {
    auto control = co_await Accept(r, r.server);
    std::shared_ptr<tcp::socket> target = control;
    if (mode != 0) {
      Frame ch;
      std::string nonce = wire::RandomBytes(wire::kNonceSize);
      ch.mutable_challenge()->set_nonce(nonce);
      co_await Write(*control, Encode(ch));
      Frame hello = co_await Read(*control);
      FUZZ_CHECK(hello.has_hello());
      FUZZ_CHECK(hello.hello().mac() == wire::HandshakeMac(
                                            kToken, wire::v1::CONNECTION_KIND_CONTROL, nonce, ""));
      Frame w;
      auto* welcome = w.mutable_welcome();
      welcome->set_client_id("00112233aabbccdd");
      welcome->set_session_nonce(wire::RandomBytes(wire::kNonceSize));
      welcome->set_data_pool_size(1);
      welcome->set_heartbeat_interval_ms(200);
      welcome->set_idle_timeout_ms(2000);
      welcome->add_features("framed_relay");
      co_await Write(*control, Encode(w));
      std::string key = wire::DeriveSessionKey(kToken, welcome->session_nonce(),
                                               welcome->client_id());
      if (mode >= 2) {
        // The agent's OpenTunnel; answer it so a relay can name the tunnel.
        Frame open = co_await Read(*control);
        if (open.has_open_tunnel()) {
          Frame opened;
          opened.mutable_tunnel_opened()->set_name(open.open_tunnel().name());
          opened.mutable_tunnel_opened()->set_tunnel_id("t1");
          opened.mutable_tunnel_opened()->set_remote_port(20000);
          co_await Write(*control, Encode(opened));
        }
        target = co_await Accept(r, r.server);
        Frame dch;
        std::string dnonce = wire::RandomBytes(wire::kNonceSize);
        dch.mutable_challenge()->set_nonce(dnonce);
        co_await Write(*target, Encode(dch));
        if (mode == 3) {
          Frame dh = co_await Read(*target);
          FUZZ_CHECK(dh.hello().mac() == wire::HandshakeMac(key, wire::v1::CONNECTION_KIND_DATA,
                                                            dnonce, dh.hello().client_id()));
          Frame ready;
          ready.mutable_data_ready();
          co_await Write(*target, Encode(ready));
          Frame start;
          start.mutable_start_relay()->set_tunnel_id("t1");
          start.mutable_start_relay()->set_visitor_addr("127.0.0.1:1");
          co_await Write(*target, Encode(start));
        }
      }
    }
    for (const auto& c : chunks) {
      auto [ec, n] = co_await asio::async_write(*target, asio::buffer(c),
                                                asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) break;
    }
  } catch (const std::exception&) {
    // The agent hung up (it refused what it was told): an outcome.
  }
  r.script_done = true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  reitunnel::log::Configure(reitunnel::log::Level::kError, reitunnel::log::Format::kText);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  int mode = data[0] & 3;
  auto pool = std::make_unique<reitunnel::runtime::WorkerPool>(1, "fuzz");
  auto& io = pool->context(0);
  auto r = std::make_unique<Run>(io);

  reitunnel::config::v1::AgentConfig cfg;
  cfg.set_server("127.0.0.1:" + std::to_string(r->server.local_endpoint().port()));
  cfg.set_token(kToken);
  cfg.set_connect_timeout_ms(300);
  cfg.mutable_reconnect()->set_initial_backoff_ms(10);
  cfg.mutable_reconnect()->set_max_backoff_ms(50);
  auto* t = cfg.add_tunnels();
  t->set_name("web");
  t->set_local_addr("127.0.0.1:" + std::to_string(r->service.local_endpoint().port()));
  auto agent = std::make_unique<reitunnel::client::Agent>(*pool, cfg, nullptr);

  auto run_agent = [](reitunnel::client::Agent* a, Run* run) -> asio::awaitable<void> {
    co_await a->Run();
    run->agent_done = true;
  };
  asio::co_spawn(io, run_agent(agent.get(), r.get()), asio::detached);
  asio::co_spawn(io, ServeLocal(*r), asio::detached);
  asio::co_spawn(io, Script(*r, mode, Chunks(data + 1, size - 1)), asio::detached);

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!r->script_done && !r->agent_done && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(20));
  }
  // Give the agent a moment with what it was told, then hang up and stop it.
  auto settle = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
  while (std::chrono::steady_clock::now() < settle) io.run_one_for(std::chrono::milliseconds(5));
  r->CloseAll();
  agent->Stop();
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!r->agent_done && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(20));
  }
  FUZZ_CHECK(r->agent_done);
  // Destroy what is still queued while everything it may touch exists,
  // then the agent, then the loop.
  pool->Shutdown();
  agent.reset();
  r.reset();
  pool.reset();
  return 0;
}
