#include "server/vhost/vhost_listener.h"

#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include "asio/this_coro.hpp"
#include "common/http/forwarding.h"
#include "common/http/request_head.h"
#include "common/http/responses.h"
#include "common/log/log.h"
#include "common/net/conn.h"
#include "common/net/deadline.h"
#include "common/net/spawn.h"
#include "common/runtime/worker_pool.h"
#include "common/tls_sniff/client_hello_reader.h"
#include "server/handshake/handshake.h"
#include "server/session/session_shard.h"
#include "server/session/tunnel_core.h"

namespace reitunnel::server::vhost {

using asio::ip::tcp;

namespace {

constexpr size_t kReadChunk = 4096;
// After a refusal: how long, and how much, the rest of the request is read
// and dropped before the close.
constexpr std::chrono::milliseconds kLinger{1000};
constexpr size_t kMaxLingerBytes = 256 * 1024;

// Sends a complete short response and closes. A refused request may leave
// unread bytes behind (its body, the rest of an oversized head); closing
// over them sends a reset, which can destroy the response before the client
// reads it. So the rest is read and dropped first, briefly and boundedly.
asio::awaitable<void> Answer(net::Conn& conn, std::string response) {
  const asio::const_buffer bytes = asio::buffer(response);
  try {
    co_await conn.WriteAll(bytes);
    conn.ShutdownSend();
    net::Deadline linger(co_await asio::this_coro::executor, kLinger, [&conn] { conn.Close(); });
    std::string sink(kReadChunk, '\0');
    for (size_t dropped = 0; dropped < kMaxLingerBytes;) {
      const size_t n = co_await conn.ReadSome(asio::buffer(sink));
      if (n == 0) break;
      dropped += n;
    }
  } catch (const std::system_error&) {
  }
  conn.Close();
}

const char* ModeName(VhostListener::Mode mode) {
  return mode == VhostListener::Mode::kHttp ? "http" : "tls";
}

}  // namespace

VhostListener::VhostListener(Options options, runtime::WorkerPool* workers, Router* router,
                             Admission* admission)
    : options_(options),
      workers_(workers),
      router_(router),
      admission_(admission),
      group_(
          workers, "vhost_accept",
          [this](int worker, tcp::socket s, std::string peer) {
            Accepted(worker, std::move(s), std::move(peer));
          },
          [this](const asio::error_code& ec) {
            log::Warn("vhost_accept_failed", "accepting a routed connection failed",
                      {{"listener", ModeName(options_.mode)}, {"error", ec.message()}});
          }) {
  for (int i = 0; i < workers_->size(); ++i) {
    readers_.push_back(std::make_unique<Router::Reader>(*router_));
  }
}

VhostListener::~VhostListener() = default;

void VhostListener::Accepted(int worker, tcp::socket socket, std::string peer) {
  const char* why = nullptr;
  // A slot per connection still reading its head: slow or idle clients from
  // one address cannot hold every slot.
  Admission::Ticket ticket = admission_->Admit(IpOf(peer), false, &why);
  if (!ticket) {
    log::Debug("vhost_rejected", "routed connection refused",
               {{"listener", ModeName(options_.mode)}, {"reason", why}});
    return;
  }
  auto conn = std::make_shared<net::Conn>(std::move(socket), std::move(peer));
  net::Spawn(conn->get_executor(), Serve(worker, conn, std::move(ticket)), "vhost_connection");
}

asio::awaitable<void> VhostListener::Serve(int worker, std::shared_ptr<net::Conn> conn,
                                           Admission::Ticket ticket) {
  std::string forward;
  std::shared_ptr<const RoutedTunnel> tunnel;
  {
    net::Deadline deadline(conn->get_executor(), options_.head_timeout, [conn] { conn->Close(); });
    try {
      if (options_.mode == Mode::kHttp) {
        tunnel = co_await RouteHttp(worker, *conn, &forward);
      } else {
        tunnel = co_await RouteTls(worker, *conn, &forward);
      }
    } catch (const std::system_error&) {
      // Gone, or timed out (the deadline closed it).
    }
  }
  ticket.Release();
  if (!tunnel || !conn->is_open()) {
    conn->Close();
    co_return;
  }
  auto shard = tunnel->shards[static_cast<size_t>(worker)].lock();
  if (!shard || !shard->ServeRouted(tunnel->core, conn, std::move(forward))) {
    // Closing, draining or at its visitor limit.
    if (options_.mode == Mode::kHttp) {
      co_await Answer(*conn, http::ErrorResponse(503));
    } else {
      conn->Close();
    }
  }
}

asio::awaitable<std::shared_ptr<const RoutedTunnel>> VhostListener::RouteHttp(
    int worker, net::Conn& conn, std::string* forward) {
  http::HeadLimits limits;
  limits.max_head_bytes = options_.max_head_bytes;
  http::RequestHeadReader reader(limits);
  std::string buf(kReadChunk, '\0');
  std::string_view rest;
  for (;;) {
    size_t n = co_await conn.ReadSome(asio::buffer(buf));
    if (n == 0) co_return nullptr;  // closed before a whole head
    http::RequestHeadReader::Result r = reader.Feed(std::string_view(buf.data(), n));
    if (r.state == http::RequestHeadReader::State::kNeedMore) continue;
    if (r.state == http::RequestHeadReader::State::kError) {
      log::Debug("vhost_bad_request", "malformed HTTP request head",
                 {{"visitor", conn.peer()}, {"reason", std::string(reader.error_reason())}});
      co_await Answer(conn, http::ErrorResponse(reader.error_status()));
      co_return nullptr;
    }
    rest = std::string_view(buf.data() + r.consumed, n - r.consumed);
    break;
  }
  const http::RequestHead& head = reader.head();
  if (head.host.empty()) {
    co_await Answer(conn, http::ErrorResponse(400));
    co_return nullptr;
  }
  std::optional<Route> route = readers_[static_cast<size_t>(worker)]->Lookup(head.host);
  std::shared_ptr<const RoutedTunnel> tunnel = route ? route->lock() : nullptr;
  if (!tunnel) {
    log::Debug("vhost_unknown_host", "no tunnel serves this host",
               {{"visitor", conn.peer()}, {"host", head.host}});
    co_await Answer(conn, http::ErrorResponse(404));
    co_return nullptr;
  }
  if (tunnel->basic_auth && !tunnel->basic_auth->Check(head)) {
    co_await Answer(conn, http::UnauthorizedResponse(head.host));
    co_return nullptr;
  }
  if (tunnel->x_forwarded) {
    http::ForwardingOptions fo;
    fo.visitor_ip = IpOf(conn.peer());
    fo.x_forwarded_proto = "http";
    *forward = http::RewriteHead(head, fo);
  } else {
    *forward = head.raw;
  }
  forward->append(rest);
  co_return tunnel;
}

asio::awaitable<std::shared_ptr<const RoutedTunnel>> VhostListener::RouteTls(
    int worker, net::Conn& conn, std::string* forward) {
  tls_sniff::ClientHelloReader reader;
  std::string buf(kReadChunk, '\0');
  for (;;) {
    size_t n = co_await conn.ReadSome(asio::buffer(buf));
    if (n == 0) co_return nullptr;
    // Everything read is forwarded: the local service does the handshake.
    forward->append(buf.data(), n);
    tls_sniff::ClientHelloReader::Result r = reader.Feed(std::string_view(buf.data(), n));
    if (r.state == tls_sniff::ClientHelloReader::State::kNeedMore) continue;
    if (r.state == tls_sniff::ClientHelloReader::State::kDone) break;
    log::Debug("vhost_bad_client_hello", "not a TLS ClientHello",
               {{"visitor", conn.peer()}, {"reason", std::string(reader.error_reason())}});
    co_return nullptr;
  }
  const auto& name = reader.info().server_name;
  if (!name) {
    log::Debug("vhost_no_sni", "TLS client sent no server name", {{"visitor", conn.peer()}});
    co_return nullptr;
  }
  std::optional<Route> route = readers_[static_cast<size_t>(worker)]->Lookup(*name);
  std::shared_ptr<const RoutedTunnel> tunnel = route ? route->lock() : nullptr;
  if (!tunnel) {
    log::Debug("vhost_unknown_host", "no tunnel serves this server name",
               {{"visitor", conn.peer()}, {"host", *name}});
  }
  co_return tunnel;
}

}  // namespace reitunnel::server::vhost
