#pragma once

// Helpers for WebSocket stream tests: WS pairs over loopback TCP, a raw
// peer that speaks frames by hand, bulk data with SHA-256.

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "asio/experimental/awaitable_operators.hpp"
#include "common/transport/http1/head_reader.h"
#include "common/transport/ws/decoder.h"
#include "common/transport/ws/handshake.h"
#include "common/transport/ws/ws_handshake.h"
#include "gtest/gtest.h"
#include "tests/common/transport/loopback.h"

namespace reitunnel::transport::testing {

struct WsPair {
  std::shared_ptr<WsStream> client;
  std::shared_ptr<WsStream> server;
};

inline WsClientOptions ClientOptions() {
  WsClientOptions o;
  o.host_header = "127.0.0.1";
  o.timeout = std::chrono::seconds(10);
  return o;
}

inline WsServerOptions ServerOptions() {
  WsServerOptions o;
  o.timeout = std::chrono::seconds(10);
  return o;
}

// Runs both handshakes at once over the given streams.
inline asio::awaitable<WsPair> Handshake(std::shared_ptr<Stream> c, std::shared_ptr<Stream> s,
                                         WsClientOptions co = ClientOptions(),
                                         WsServerOptions so = ServerOptions()) {
  using namespace asio::experimental::awaitable_operators;
  auto [client, server] = co_await (WsConnect(std::move(c), co) && WsAccept(std::move(s), so));
  co_return WsPair{client, server};
}

inline asio::awaitable<WsPair> WsPairOverTcp(WsClientOptions co = ClientOptions(),
                                             WsServerOptions so = ServerOptions()) {
  ConnPair p = co_await TcpPair();
  co_return co_await Handshake(p.client, p.server, co, so);
}

// The client half of the handshake done by hand; returns what followed the
// 101 head.
inline asio::awaitable<std::string> RawClientHandshake(Stream& conn,
                                                       const std::string& path = "/reitunnel") {
  const std::string key = ws::MakeClientKey();
  absl::StatusOr<std::string> req =
      ws::BuildClientRequest({"127.0.0.1", path, std::string(ws::kSubprotocol), {}}, key);
  EXPECT_TRUE(req.ok());
  co_await conn.WriteAll(asio::buffer(*req));
  http1::HeadAndRest answer = co_await http1::ReadHead(conn, 8192);
  std::string selected;
  absl::Status st = ws::CheckServerResponse(answer.head, key, ws::kSubprotocol, &selected);
  EXPECT_TRUE(st.ok()) << st;
  co_return answer.rest;
}

// The server half by hand; returns what followed the request head.
inline asio::awaitable<std::string> RawServerHandshake(Stream& conn) {
  http1::HeadAndRest req = co_await http1::ReadHead(conn, 8192);
  ws::UpgradeCheck check = ws::CheckClientRequest(req.head, "/reitunnel");
  EXPECT_EQ(check.status, 101) << check.error;
  const std::string answer = ws::BuildAcceptResponse(check.request.key, "");
  co_await conn.WriteAll(asio::buffer(answer));
  co_return req.rest;
}

// What a raw peer read: data, control frames, and how it ended.
struct RawRead {
  std::string data;
  std::vector<std::pair<ws::FrameDecoder::Kind, std::string>> controls;
  std::optional<uint16_t> close_code;
  bool eof = false;  // the connection ended (after the Close, if any)
  std::string decode_error;
};

// Reads frames as `role` (kClient reads a server's unmasked frames) until
// the peer's Close and then EOF, or EOF alone. Stops at the Close when
// `wait_eof` is false.
inline asio::awaitable<RawRead> ReadFrames(Stream& conn, ws::Role role, std::string initial = "",
                                           bool wait_eof = true,
                                           bool stop_at_first_control = false) {
  ws::FrameDecoder d(role, {});
  RawRead out;
  std::string buf = std::move(initial);
  char tmp[16384];
  for (;;) {
    size_t pos = 0;
    while (pos < buf.size() && !out.close_code) {
      ws::FrameDecoder::Event ev =
          d.Decode(reinterpret_cast<uint8_t*>(buf.data() + pos), buf.size() - pos, 1 << 20);
      pos += ev.consumed;
      using K = ws::FrameDecoder::Kind;
      if (ev.kind == K::kData) out.data.append(reinterpret_cast<char*>(ev.data), ev.size);
      if (ev.kind == K::kPing || ev.kind == K::kPong) {
        out.controls.emplace_back(ev.kind, std::string(ev.control_payload));
        if (stop_at_first_control) co_return out;
      }
      if (ev.kind == K::kClose) out.close_code = ev.close_code;
      if (ev.kind == K::kError) {
        out.decode_error = ev.error;
        co_return out;
      }
    }
    buf.clear();
    if (out.close_code && !wait_eof) co_return out;
    size_t n = 0;
    try {
      n = co_await conn.ReadSome(asio::buffer(tmp));
    } catch (const std::system_error&) {
      n = 0;  // a reset counts as the end here
    }
    if (n == 0) {
      out.eof = true;
      co_return out;
    }
    if (out.close_code) continue;  // bytes after Close: ignored, wait for EOF
    buf.assign(tmp, n);
  }
}

// Deterministic pseudo-random bytes and their SHA-256.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  void Update(const void* p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  std::string Final() {
    unsigned char d[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, d, &len);
    return std::string(reinterpret_cast<char*>(d), len);
  }

 private:
  EVP_MD_CTX* ctx_;
};

inline void FillPseudoRandom(uint64_t* state, char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    p[i] = static_cast<char>(*state);
  }
}

// Writes `total` bytes in writes of varying size; returns their SHA-256.
inline asio::awaitable<std::string> SendBulk(Stream& s, size_t total, uint64_t seed) {
  Sha256 sha;
  std::vector<char> chunk(1 << 20);
  uint64_t state = seed | 1;
  size_t sent = 0;
  size_t step = 100 * 1024 + 7;
  while (sent < total) {
    const size_t n = std::min({step, chunk.size(), total - sent});
    FillPseudoRandom(&state, chunk.data(), n);
    sha.Update(chunk.data(), n);
    co_await s.WriteAll(asio::buffer(chunk.data(), n));
    sent += n;
    step = step * 3 % (1 << 20) + 1;
  }
  co_return sha.Final();
}

struct Received {
  size_t bytes = 0;
  std::string sha256;
};

// Reads to EOF, hashing.
inline asio::awaitable<Received> ReceiveBulk(Stream& s) {
  Sha256 sha;
  std::vector<char> buf(50 * 1024);
  Received r;
  for (;;) {
    const size_t n = co_await s.ReadSome(asio::buffer(buf));
    if (n == 0) break;
    sha.Update(buf.data(), n);
    r.bytes += n;
  }
  r.sha256 = sha.Final();
  co_return r;
}

}  // namespace reitunnel::transport::testing
