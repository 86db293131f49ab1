#include "client/data_link.h"

#include "client/proxy_header.h"
#include "client/udp_flow.h"

#include "asio/this_coro.hpp"
#include "common/config/parse.h"
#include "common/http/responses.h"
#include "common/log/log.h"
#include "common/net/buffered_stream.h"
#include "common/net/deadline.h"
#include "common/net/dial.h"
#include "common/net/frame_io.h"
#include "common/net/framed_relay.h"
#include "common/net/relay.h"
#include "common/wire/auth.h"

namespace reitunnel::client {

using wire::v1::Frame;

namespace {

asio::awaitable<std::shared_ptr<net::BufferedStream>> OpenLink(
    const std::shared_ptr<Session>& s, const ServerDialer& dialer,
    std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  auto conn = co_await dialer.Dial();
  auto link = std::make_shared<net::BufferedStream>(conn);
  net::Deadline deadline(ex, timeout, [link] { link->Close(); });
  Frame challenge = co_await net::ReadFrame(*link);
  if (!challenge.has_challenge()) throw net::ProtocolError("expected challenge");
  Frame hello;
  auto* h = hello.mutable_hello();
  h->set_kind(wire::v1::CONNECTION_KIND_DATA);
  h->set_client_id(s->client_id);
  h->set_mac(wire::HandshakeMac(s->session_key, wire::v1::CONNECTION_KIND_DATA,
                                challenge.challenge().nonce(), s->client_id));
  co_await net::WriteFrame(*link, hello);
  Frame ready = co_await net::ReadFrame(*link);
  if (!ready.has_data_ready()) {
    throw net::ProtocolError(ready.has_refused() ? ready.refused().reason() : "expected data_ready");
  }
  co_return link;
}

}  // namespace

asio::awaitable<void> RunDataLink(std::shared_ptr<Session> s, const ServerDialer* dialer,
                                  std::chrono::milliseconds connect_timeout) {
  // Counted as a spare from the moment the slot was claimed until it is
  // taken by a visitor, fails or is retired.
  bool spare = true;
  auto leave = [&] {
    if (spare) {
      spare = false;
      s->spares.Leave();
    }
  };
  std::shared_ptr<net::BufferedStream> link;
  try {
    link = co_await OpenLink(s, *dialer, connect_timeout);
    s->TrackLink(link, co_await asio::this_coro::executor);
    if (s->closed) throw net::ProtocolError("session ended");
    for (;;) {
      // Idle in the server's pool until a visitor arrives. EOF here: the
      // server retired the link or the session ended.
      Frame start = co_await net::ReadFrame(*link);
      leave();
      if (!s->closed) {
        // Keep the target number of idle links while this one works.
        asio::post(s->ex, [s] {
          if (s->Refill) s->Refill();
        });
      }
      if (!start.has_start_relay()) throw net::ProtocolError("expected start_relay");
      auto tunnel = s->Tunnel(start.start_relay().tunnel_id());
      if (!tunnel) throw net::ProtocolError("start_relay for an unknown tunnel");
      auto target = config::ParseHostPort(tunnel->local_addr());
      if (!target.ok()) throw net::ProtocolError("bad local address");
      if (tunnel->kind() == "udp") {
        if (!s->framed) throw net::ProtocolError("udp flow on an unframed link");
        net::LinkState state =
            co_await RelayUdpFlow(*link, target->host, target->port, tunnel->name());
        if (state != net::LinkState::kReusable || s->closed) break;
        spare = true;
        s->spares.Return();
        continue;
      }
      std::shared_ptr<net::Conn> local;
      try {
        local = std::make_shared<net::Conn>(
            co_await net::Dial(target->host, target->port, connect_timeout));
      } catch (const std::system_error& e) {
        log::Warn("local_connect_failed", "cannot reach the local service",
                  {{"name", tunnel->name()},
                   {"local_addr", tunnel->local_addr()},
                   {"error", e.code().message()}});
      }
      if (local && !tunnel->proxy_protocol().empty()) {
        // Before the visitor's first byte, so the service reads it first.
        const std::string header = ProxyHeaderFor(tunnel->proxy_protocol(), start.start_relay());
        const asio::const_buffer bytes = asio::buffer(header);
        try {
          co_await local->WriteAll(bytes);
        } catch (const std::system_error& e) {
          log::Warn("local_connect_failed", "cannot send the PROXY header to the local service",
                    {{"name", tunnel->name()},
                     {"local_addr", tunnel->local_addr()},
                     {"error", e.code().message()}});
          local.reset();
        }
      }
      net::LinkState state = net::LinkState::kBroken;
      if (!s->framed) {
        // Raw relay: the link carries this visitor only.
        if (local) {
          auto* data = dynamic_cast<net::Conn*>(link->inner().get());
          net::RelaySinks none;
          if (data && !link->has_buffered_input()) co_await net::Relay(*local, *data, none);
        }
        break;
      }
      if (local) {
        net::FramedRelayOptions opts;
        opts.plain_read_first = false;  // a fresh service usually waits for the request
        state = co_await net::FramedRelay(*local, *link, net::RelaySinks{}, opts);
      } else if (tunnel->kind() == "http") {
        // A browser shows "502" where a reset would look like a network fault.
        const std::string reply = http::ErrorResponse(502);
        state = co_await net::FramedAnswer(*link, reply);
      } else {
        // The visitor is reset at once instead of waiting for a timeout.
        state = co_await net::FramedReject(*link);
      }
      if (state != net::LinkState::kReusable || s->closed) break;
      // Idle again: back in the count (the agent retires surplus spares
      // through the server, which picks idle ones).
      spare = true;
      s->spares.Return();
    }
  } catch (const std::exception& e) {
    log::Debug("data_connection_ended", "data connection ended", {{"error", e.what()}});
  }
  leave();
  if (link) link->Close();
  if (!s->closed) {
    asio::post(s->ex, [s] {
      if (s->Refill) s->Refill();
    });
  }
}

}  // namespace reitunnel::client
