#include "client/udp_flow.h"

#include <memory>
#include <optional>

#include "asio/experimental/as_tuple.hpp"
#include "asio/ip/udp.hpp"
#include "asio/steady_timer.hpp"
#include "asio/this_coro.hpp"
#include "asio/use_awaitable.hpp"
#include "common/log/log.h"
#include "common/net/datagram_link.h"
#include "common/net/spawn.h"

namespace reitunnel::client {

using asio::experimental::as_tuple;
using asio::ip::udp;
using asio::use_awaitable;

namespace {

struct FlowState {
  explicit FlowState(const asio::any_io_executor& ex) : socket(ex), sender_exit(ex) {}
  udp::socket socket;
  asio::steady_timer sender_exit;  // cancelled when the sender returns
  bool stopping = false;
  bool sender_done = false;
};

// Local service -> link, until the flow stops. Owns the link's writes until
// it returns.
asio::awaitable<void> SendToServer(std::shared_ptr<FlowState> st, net::BufferedStream& link) {
  std::string buf(net::kMaxDatagram + 1, '\0');
  try {
    while (!st->stopping) {
      auto [ec, n] = co_await st->socket.async_receive(asio::buffer(buf), as_tuple(use_awaitable));
      if (st->stopping) break;
      // ICMP port unreachable of an earlier datagram: the service may come
      // back; UDP carries on.
      if (ec == asio::error::connection_refused) continue;
      if (ec) break;
      if (n == 0 || n > net::kMaxDatagram) continue;
      co_await net::WriteDatagram(link, std::string_view(buf.data(), n));
    }
  } catch (const std::exception&) {
    link.Close();  // the reader fails too and the flow ends as broken
  }
  st->sender_done = true;
  st->sender_exit.cancel();
}

}  // namespace

asio::awaitable<net::LinkState> RelayUdpFlow(net::BufferedStream& link, const std::string& host,
                                             uint16_t port, const std::string& tunnel_name) {
  auto ex = co_await asio::this_coro::executor;
  auto st = std::make_shared<FlowState>(ex);
  std::optional<udp::endpoint> target;
  {
    udp::resolver resolver(ex);
    auto [ec, results] = co_await resolver.async_resolve(host, std::to_string(port),
                                                         as_tuple(use_awaitable));
    asio::error_code sec;
    if (!ec && !results.empty()) {
      target = results.begin()->endpoint();
      st->socket.open(target->protocol(), sec);
      if (!sec) st->socket.connect(*target, sec);
      // A full send buffer drops the datagram (below) instead of blocking
      // this worker and every link on it.
      if (!sec) st->socket.non_blocking(true, sec);
    }
    if (ec || !target || sec) {
      log::Warn("local_connect_failed", "cannot reach the local UDP service",
                {{"name", tunnel_name},
                 {"local_addr", host + ":" + std::to_string(port)},
                 {"error", (ec ? ec : sec).message()}});
      co_return co_await net::FramedReject(link);
    }
  }
  net::Spawn(ex, SendToServer(st, link), "udp_flow_sender");
  bool broken = false;
  try {
    for (;;) {
      bool reset = false;
      std::optional<std::string> d = co_await net::ReadDatagram(link, &reset);
      if (!d) break;  // the server ended the flow (idle, or the tunnel closed)
      asio::error_code ec;
      st->socket.send(asio::buffer(*d), 0, ec);  // a lost datagram is UDP's to lose
    }
  } catch (const std::exception& e) {
    log::Debug("udp_flow_error", "UDP flow link failed", {{"error", e.what()}});
    broken = true;
    link.Close();
  }
  st->stopping = true;
  asio::error_code ignored;
  st->socket.close(ignored);
  while (!st->sender_done) {
    st->sender_exit.expires_at(asio::steady_timer::time_point::max());
    (void)co_await st->sender_exit.async_wait(as_tuple(use_awaitable));
  }
  if (broken || !link.is_open()) co_return net::LinkState::kBroken;
  try {
    co_await net::WriteDatagramEnd(link);
  } catch (const std::exception&) {
    link.Close();
    co_return net::LinkState::kBroken;
  }
  co_return net::LinkState::kReusable;
}

}  // namespace reitunnel::client
