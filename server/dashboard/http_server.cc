#include "server/dashboard/http_server.h"

#include <array>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "asio/ip/address.hpp"
#include "asio/ip/tcp.hpp"
#include "common/config/parse.h"
#include "common/http/ascii.h"
#include "common/http/request_head.h"
#include "common/http/responses.h"
#include "common/log/log.h"
#include "common/net/conn.h"
#include "common/net/deadline.h"
#include "common/net/listener.h"
#include "common/net/spawn.h"
#include "common/transport/tls/peer_certificate.h"

namespace reitunnel::server::dashboard {

using asio::ip::tcp;

namespace {

absl::StatusOr<tcp::endpoint> Resolve(const config::HostPort& hp) {
  asio::error_code ec;
  auto ip = asio::ip::make_address(hp.host, ec);
  if (!ec) return tcp::endpoint(ip, hp.port);
  // A host name (e.g. "localhost"): resolved once, at start.
  asio::io_context io;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(hp.host, std::to_string(hp.port), ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot resolve ", hp.host));
  }
  return results.begin()->endpoint();
}

bool WantsClose(const http::RequestHead& head) {
  const http::HeaderField* c = head.Find("connection");
  if (head.version_major == 1 && head.version_minor == 0) {
    return !(c && http::EqualsIgnoreCase(http::TrimOws(c->value), "keep-alive"));
  }
  return c && http::EqualsIgnoreCase(http::TrimOws(c->value), "close");
}

// The subject of a client certificate the handshake verified, if one was
// presented (the context verifies without requiring one).
std::optional<std::string> VerifiedSubject(SSL* ssl) {
  if (!ssl || SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
  auto cert = transport::PeerCertificateOf(ssl);
  if (!cert) return std::nullopt;
  return cert->subject;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Listen(asio::any_io_executor ex,
                                                               const std::string& address,
                                                               SSL_CTX* tls, Handler handler,
                                                               HttpServerOptions options) {
  auto hp = config::ParseHostPort(address);
  if (!hp.ok()) return hp.status();
  auto ep = Resolve(*hp);
  if (!ep.ok()) return ep.status();
  auto fail = [&](const asio::error_code& ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve the dashboard on ", address, ": ", ec.message()));
  };
  if (ep->port() != 0) {
    if (auto ec = net::ProbeListen(*ep)) return fail(ec);
  }
  tcp::acceptor acceptor(ex);
  asio::error_code ec;
  acceptor.open(ep->protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(*ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ec);
  return std::unique_ptr<HttpServer>(
      new HttpServer(std::move(ex), std::move(acceptor), tls, std::move(handler), options));
}

HttpServer::HttpServer(asio::any_io_executor ex, tcp::acceptor acceptor, SSL_CTX* tls,
                       Handler handler, HttpServerOptions options)
    : ex_(std::move(ex)),
      acceptor_(std::move(acceptor)),
      tls_(tls),
      handler_(std::move(handler)),
      o_(options) {
  asio::error_code ec;
  address_ = net::EndpointString(acceptor_.local_endpoint(ec));
}

HttpServer::~HttpServer() = default;

void HttpServer::Start() { net::Spawn(ex_, AcceptLoop(), "dashboard_accept"); }

void HttpServer::Stop() {
  stopped_ = true;
  asio::error_code ec;
  acceptor_.close(ec);
  for (const auto& c : conns_) c->Close();
}

asio::awaitable<void> HttpServer::AcceptLoop() {
  // Named, not a temporary inside co_await (GCC 12 coroutine bug).
  net::AcceptedFn accepted = [this](tcp::socket s, std::string) {
    asio::error_code ec;
    auto remote = s.remote_endpoint(ec);
    if (ec || stopped_ || conns_.size() >= o_.max_connections) return;  // closes `s`
    std::string peer_ip = remote.address().to_string();
    auto conn = std::make_shared<net::Conn>(std::move(s), net::EndpointString(remote));
    conns_.insert(conn);
    net::Spawn(ex_, Serve(conn, std::move(peer_ip)), "dashboard_connection");
  };
  const tcp protocol = acceptor_.local_endpoint().protocol();
  while (acceptor_.is_open()) {
    asio::error_code ec = co_await net::AcceptBatch(acceptor_, protocol, accepted);
    if (!acceptor_.is_open() || ec == asio::error::operation_aborted) break;
    if (ec) {
      log::Warn("dashboard_accept_failed", "accepting a dashboard connection failed",
                {{"error", ec.message()}});
      asio::steady_timer backoff(ex_, std::chrono::milliseconds(100));
      co_await backoff.async_wait(asio::use_awaitable);
    }
  }
}

asio::awaitable<void> HttpServer::Serve(std::shared_ptr<net::Conn> conn, std::string peer_ip) {
  auto close = [conn] { conn->Close(); };
  try {
    std::optional<std::string> subject;
    if (tls_) {
      net::Deadline handshake(ex_, o_.handshake_timeout, close);
      co_await conn->TlsAccept(tls_);
      subject = VerifiedSubject(conn->ssl());
    }
    std::array<char, 4096> chunk;
    std::string pending;  // bytes read past the previous request
    for (int n = 0; n < o_.max_requests_per_connection && conn->is_open(); ++n) {
      net::Deadline deadline(ex_, o_.request_timeout, close);
      http::RequestHeadReader reader;
      http::RequestHeadReader::Result res{http::RequestHeadReader::State::kNeedMore, 0};
      if (!pending.empty()) {
        res = reader.Feed(pending);
        pending.erase(0, res.consumed);
      }
      while (res.state == http::RequestHeadReader::State::kNeedMore) {
        size_t got = co_await conn->ReadSome(asio::buffer(chunk));
        if (got == 0) {
          conn->Close();
          break;
        }
        std::string_view in(chunk.data(), got);
        res = reader.Feed(in);
        if (res.state != http::RequestHeadReader::State::kNeedMore) {
          pending.assign(in.substr(res.consumed));
        }
      }
      if (!conn->is_open()) break;
      if (res.state == http::RequestHeadReader::State::kError) {
        std::string resp = http::ErrorResponse(reader.error_status());
        co_await conn->WriteAll(asio::buffer(resp));
        break;
      }
      http::RequestHead head = reader.TakeHead();
      if (head.chunked || head.content_length.value_or(0) > o_.max_body_bytes) {
        std::string resp = http::ErrorResponse(head.chunked ? 411 : 413);
        co_await conn->WriteAll(asio::buffer(resp));
        break;
      }
      HttpRequest req;
      size_t need = static_cast<size_t>(head.content_length.value_or(0));
      req.body = pending.substr(0, need);
      pending.erase(0, req.body.size());
      while (req.body.size() < need) {
        size_t got = co_await conn->ReadSome(asio::buffer(chunk));
        if (got == 0) throw std::system_error(asio::error::eof);
        size_t take = std::min(got, need - req.body.size());
        req.body.append(chunk.data(), take);
        pending.append(chunk.data() + take, got - take);
      }
      deadline.Cancel();

      req.method = head.method;
      SplitTarget(head.target, &req.path, &req.query);
      for (auto& f : head.headers) req.headers.emplace_back(std::move(f.name), std::move(f.value));
      req.peer_ip = peer_ip;
      req.tls = tls_ != nullptr;
      req.client_cert_subject = subject;
      HttpResponse resp = handler_(req);
      bool keep_alive = !WantsClose(head) && n + 1 < o_.max_requests_per_connection && !stopped_;
      std::string out = SerializeResponse(resp, keep_alive, req.method == "HEAD");
      net::Deadline write(ex_, o_.write_timeout, close);
      co_await conn->WriteAll(asio::buffer(out));
      if (!keep_alive) break;
    }
  } catch (const std::system_error&) {
    // The peer went away, or a deadline closed the connection.
  }
  conn->Close();
  conns_.erase(conn);
}

}  // namespace reitunnel::server::dashboard
