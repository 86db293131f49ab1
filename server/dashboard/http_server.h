#pragma once

// A small HTTP/1.1 server for the dashboard on one Asio executor: plain TCP
// or TLS (OpenSSL through net::Conn, optionally verifying client
// certificates), request heads parsed and bounded by http::RequestHeadReader
// (libhttp-parser), keep-alive, and a deadline on every wait so slow or idle
// clients are cut off. Bounded: connections, head and body sizes, requests
// per connection. The handler runs on the executor and must not block.

#include <openssl/ssl.h>

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "asio/ip/tcp.hpp"
#include "server/dashboard/http_message.h"

namespace reitunnel::net {
class Conn;
}

namespace reitunnel::server::dashboard {

struct HttpServerOptions {
  size_t max_connections = 64;
  std::chrono::milliseconds handshake_timeout{10000};
  // A whole request (head and body) must arrive within this of the
  // connection opening or the previous response; idle keep-alive
  // connections close then too.
  std::chrono::milliseconds request_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};
  size_t max_body_bytes = 16 * 1024;
  int max_requests_per_connection = 10000;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Binds `address` ("host:port"; port 0 picks one) now, refusing a port in
  // use with an error that names it. `tls` null: plain HTTP; otherwise it
  // must outlive the server, and a certificate it verified is passed to the
  // handler (HttpRequest::client_cert_subject).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Listen(asio::any_io_executor ex,
                                                            const std::string& address,
                                                            SSL_CTX* tls, Handler handler,
                                                            HttpServerOptions options = {});
  ~HttpServer();

  // Starts accepting (on the executor).
  void Start();
  // On the executor: closes the listener and every connection.
  void Stop();

  // "host:port" actually bound.
  const std::string& address() const { return address_; }
  size_t connections() const { return conns_.size(); }

 private:
  HttpServer(asio::any_io_executor ex, asio::ip::tcp::acceptor acceptor, SSL_CTX* tls,
             Handler handler, HttpServerOptions options);
  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Serve(std::shared_ptr<net::Conn> conn, std::string peer_ip);

  asio::any_io_executor ex_;
  asio::ip::tcp::acceptor acceptor_;
  SSL_CTX* tls_;
  Handler handler_;
  HttpServerOptions o_;
  std::string address_;
  std::set<std::shared_ptr<net::Conn>> conns_;  // executor only
  bool stopped_ = false;
};

}  // namespace reitunnel::server::dashboard
