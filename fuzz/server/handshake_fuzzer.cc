// The server's agent port fed arbitrary agent bytes: each input runs one
// real ServeAgentConnection (server/handshake/handshake.h) in process, over
// a loopback TCP pair, on one event loop driven by this thread, with a
// minimal set of server parts (registry, ports, bans, throttle; no hooks).
//
// Input: a mode byte, then chunks, each [u16 big-endian length][bytes]
// (each chunk is one write; a short last chunk is sent as it is).
//   mode & 3 == 0  raw: the chunks are everything the agent says.
//   mode & 3 == 1  proven: if the first chunk is a Hello frame it gets a
//                  valid proof for the server's challenge (the token; any
//                  agent id dropped), so the later chunks reach an
//                  authenticated control session (OpenTunnel, Ping, ...).
//   mode & 3 == 2  data link: the harness brings a session up itself, then
//                  a second connection presents a valid data Hello and the
//                  chunks follow on that link.
//   mode & 3 == 3  relay: as data link, plus the harness opens a tunnel and
//                  a visitor, so the server starts a framed relay on the
//                  link and the chunks are the agent's side of it.
// After the input the agent half-closes, then closes. Invariants: nothing
// crashes or leaks (ASan/LSan), every connection and session ends, and the
// registry, the admission slots and the visitor count are back to zero.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "asio/co_spawn.hpp"
#include "asio/connect.hpp"
#include "asio/detached.hpp"
#include "asio/experimental/as_tuple.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/read.hpp"
#include "asio/steady_timer.hpp"
#include "asio/use_awaitable.hpp"
#include "asio/write.hpp"
#include "common/log/log.h"
#include "common/runtime/worker_pool.h"
#include "common/wire/auth.h"
#include "common/wire/frame.h"
#include "fuzz/fuzz_check.h"
#include "reitunnel/config/v1/server.pb.h"
#include "server/auth/agent_directory.h"
#include "server/auth/auth_throttle.h"
#include "server/auth/authenticator.h"
#include "server/handshake/handshake.h"
#include "server/listener/admission.h"
#include "server/listener/reject_log.h"
#include "server/ports/port_allocator.h"
#include "server/registry/bans.h"
#include "server/registry/session_registry.h"
#include "server/session/active_visitors.h"
#include "server/session/session_deps.h"

namespace {

namespace rs = reitunnel::server;
namespace wire = reitunnel::wire;
using asio::ip::tcp;
using wire::v1::Frame;

constexpr char kToken[] = "fuzz-token-0123456789abcdef";
constexpr size_t kMaxChunks = 64;

// A loopback port nobody listens on, for the one public port of the range.
uint16_t FreePort() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

struct Server {
  Server() : pool(1, "fuzz"), acceptor(pool.context(0)) {
    reitunnel::log::Configure(reitunnel::log::Level::kError, reitunnel::log::Format::kText);
    cfg.set_token(kToken);
    cfg.mutable_timeouts()->set_handshake_ms(300);
    cfg.mutable_limits()->set_max_agents(4);
    cfg.mutable_limits()->set_data_pool_size(1);
    settings.data_connection_timeout = std::chrono::milliseconds(300);
    // One failure blocks 127.0.0.1 for good: a wrong proof costs its 250 ms
    // answer delay once, then every raw-mode guess is refused at once.
    // Proven and link modes connect from 127.0.0.2 and never fail a proof.
    rs::AuthThrottleOptions o;
    o.max_failures = 1;
    o.first_block = std::chrono::hours(1);
    o.max_block = std::chrono::hours(1);
    throttle = std::make_unique<rs::AuthThrottle>(o);
    public_port = FreePort();
    ports = std::make_unique<rs::PortAllocator>(asio::ip::make_address("127.0.0.1"), public_port,
                                                public_port);
    auth = std::make_unique<rs::Authenticator>(kToken, nullptr);
    env.cfg = &cfg;
    env.auth = auth.get();
    env.throttle = throttle.get();
    env.rejects = &rejects;
    env.session.workers = &pool;
    env.session.registry = &registry;
    env.session.ports = ports.get();
    env.session.bans = &bans;
    env.session.active = &active;
    env.session.draining = &draining;
    env.session.settings = &settings;
    env.features = {"framed_relay"};
    acceptor.open(tcp::v4());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor.listen();
  }

  reitunnel::runtime::WorkerPool pool;
  tcp::acceptor acceptor;
  reitunnel::config::v1::ServerConfig cfg;
  rs::SessionSettings settings;
  std::unique_ptr<rs::AuthThrottle> throttle;
  rs::RejectLog rejects{std::chrono::hours(1)};
  std::unique_ptr<rs::PortAllocator> ports;
  std::unique_ptr<rs::Authenticator> auth;
  rs::SessionRegistry registry;
  rs::Bans bans;
  rs::ActiveVisitors active;
  std::atomic<bool> draining{false};
  rs::Admission admission{rs::AdmissionLimits{}};
  rs::HandshakeEnv env;
  uint16_t public_port = 0;
};

Server& TheServer() {
  static Server* s = new Server();
  return *s;
}

std::string Encode(const Frame& f) {
  auto e = wire::Encode(f);
  FUZZ_CHECK(e.ok());
  return *e;
}

// The agent side, in plain asio: frames are read by hand so the harness
// depends on nothing it tests.
class Agent {
 public:
  Agent(asio::io_context& io) : io_(io) {}

  // Connects from `source` and hands the accepted end to the server.
  asio::awaitable<tcp::socket> Connect(const char* source) {
    Server& s = TheServer();
    tcp::socket sock(io_);
    sock.open(tcp::v4());
    sock.bind(tcp::endpoint(asio::ip::make_address(source), 0));
    co_await sock.async_connect(s.acceptor.local_endpoint(), asio::use_awaitable);
    tcp::socket accepted = co_await s.acceptor.async_accept(asio::use_awaitable);
    auto peer = accepted.remote_endpoint();
    std::string peer_str = peer.address().to_string() + ":" + std::to_string(peer.port());
    const char* why = nullptr;
    rs::Admission::Ticket ticket = s.admission.Admit(peer.address().to_string(), false, &why);
    FUZZ_CHECK(ticket);
    asio::co_spawn(io_,
                   rs::ServeAgentConnection(s.env, 0, std::move(accepted), std::move(peer_str),
                                            std::move(ticket)),
                   asio::detached);
    co_return sock;
  }

  static asio::awaitable<Frame> Read(tcp::socket& sock) {
    wire::Header h;
    co_await asio::async_read(sock, asio::buffer(h.data(), h.size()), asio::use_awaitable);
    auto len = wire::ParseHeader(h);
    if (!len.ok()) throw std::runtime_error("bad header from server");
    std::string payload(*len, '\0');
    co_await asio::async_read(sock, asio::buffer(payload), asio::use_awaitable);
    auto f = wire::ParsePayload(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
    if (!f.ok()) throw std::runtime_error("bad frame from server");
    co_return *f;
  }

  static asio::awaitable<void> Write(tcp::socket& sock, const std::string& bytes) {
    co_await asio::async_write(sock, asio::buffer(bytes), asio::use_awaitable);
  }

  // A control session brought up properly: returns the socket and fills
  // the session's id and key.
  asio::awaitable<tcp::socket> Control(std::string* client_id, std::string* key) {
    tcp::socket c = co_await Connect("127.0.0.2");
    Frame ch = co_await Read(c);
    Frame hello;
    auto* h = hello.mutable_hello();
    h->set_kind(wire::v1::CONNECTION_KIND_CONTROL);
    h->set_mac(wire::HandshakeMac(kToken, wire::v1::CONNECTION_KIND_CONTROL,
                                  ch.challenge().nonce(), ""));
    h->add_features("framed_relay");
    co_await Write(c, Encode(hello));
    Frame w = co_await Read(c);
    if (!w.has_welcome()) throw std::runtime_error("no welcome");
    *client_id = w.welcome().client_id();
    *key = wire::DeriveSessionKey(kToken, w.welcome().session_nonce(), *client_id);
    co_return c;
  }

  asio::awaitable<tcp::socket> DataLink(const std::string& client_id, const std::string& key) {
    tcp::socket d = co_await Connect("127.0.0.2");
    Frame ch = co_await Read(d);
    Frame hello;
    auto* h = hello.mutable_hello();
    h->set_kind(wire::v1::CONNECTION_KIND_DATA);
    h->set_client_id(client_id);
    h->set_mac(wire::HandshakeMac(key, wire::v1::CONNECTION_KIND_DATA, ch.challenge().nonce(),
                                  client_id));
    co_await Write(d, Encode(hello));
    Frame ready = co_await Read(d);
    if (!ready.has_data_ready()) throw std::runtime_error("no data_ready");
    co_return d;
  }

 private:
  asio::io_context& io_;
};

// Reads and drops whatever the peer sends until it closes.
asio::awaitable<void> Drain(tcp::socket& sock) {
  char buf[4096];
  for (;;) {
    auto [ec, n] = co_await sock.async_read_some(
        asio::buffer(buf), asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return;
  }
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

// Proves a Hello frame (when the chunk is one) for `nonce`.
void Prove(std::string* chunk, const std::string& nonce) {
  if (chunk->size() < wire::kHeaderSize) return;
  auto f = wire::ParsePayload(reinterpret_cast<const uint8_t*>(chunk->data()) + wire::kHeaderSize,
                              chunk->size() - wire::kHeaderSize);
  if (!f.ok() || !f->has_hello()) return;
  auto* h = f->mutable_hello();
  h->clear_agent_id();
  h->set_mac(wire::HandshakeMac(kToken, h->kind(), nonce, ""));
  auto e = wire::Encode(*f);
  if (e.ok()) *chunk = *e;
}

asio::awaitable<void> RunInput(int mode, std::vector<std::string> chunks, bool* done) {
  Server& s = TheServer();
  auto& io = s.pool.context(0);
  Agent agent(io);
  tcp::socket control(io), link(io), visitor(io);
  try {
    tcp::socket* target = &control;
    if (mode == 0 || mode == 1) {
      control = co_await agent.Connect(mode == 0 ? "127.0.0.1" : "127.0.0.2");
      Frame ch = co_await Agent::Read(control);
      FUZZ_CHECK(ch.has_challenge() && ch.challenge().nonce().size() == wire::kNonceSize);
      if (mode == 1 && !chunks.empty()) Prove(&chunks[0], ch.challenge().nonce());
    } else {
      std::string client_id, key;
      control = co_await agent.Control(&client_id, &key);
      link = co_await agent.DataLink(client_id, key);
      target = &link;
      if (mode == 3) {
        Frame open;
        open.mutable_open_tunnel()->set_name("t");
        co_await Agent::Write(control, Encode(open));
        Frame opened = co_await Agent::Read(control);
        if (!opened.has_tunnel_opened()) throw std::runtime_error("tunnel not opened");
        co_await visitor.async_connect(
            tcp::endpoint(asio::ip::make_address("127.0.0.1"), opened.tunnel_opened().remote_port()),
            asio::use_awaitable);
        co_await Agent::Write(visitor, "visitor bytes");
        visitor.shutdown(tcp::socket::shutdown_send);
        Frame start = co_await Agent::Read(link);
        if (!start.has_start_relay()) throw std::runtime_error("no start_relay");
      }
    }
    for (const auto& c : chunks) {
      auto [ec, n] = co_await asio::async_write(*target, asio::buffer(c),
                                                asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) break;
    }
    asio::error_code ec;
    target->shutdown(tcp::socket::shutdown_send, ec);
    // The server must end the connection on its own once the agent said
    // everything (it half-closed); bounded by the caller's deadline.
    co_await Drain(*target);
  } catch (const std::exception&) {
    // The server closed early (a refusal): that is an outcome, not a bug.
  }
  asio::error_code ec;
  visitor.close(ec);
  link.close(ec);
  control.close(ec);
  *done = true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Server& s = TheServer();
  auto& io = s.pool.context(0);
  int mode = data[0] & 3;
  bool done = false;
  asio::co_spawn(io, RunInput(mode, Chunks(data + 1, size - 1), &done), asio::detached);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done && std::chrono::steady_clock::now() < deadline) io.run_one_for(std::chrono::milliseconds(50));
  FUZZ_CHECK(done);
  // Everything the input started ends: the session (its control connection
  // is closed), its links, tunnels and visitors, every admission slot.
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((s.registry.size() > 0 || s.admission.pending() > 0 || s.active.count() > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(50));
  }
  FUZZ_CHECK(s.registry.size() == 0);
  FUZZ_CHECK(s.admission.pending() == 0);
  FUZZ_CHECK(s.active.count() == 0);
  // Let the last handlers (closing sockets, timers) run.
  while (io.poll() > 0) {
  }
  return 0;
}
