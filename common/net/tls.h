#pragma once

// OpenSSL contexts for the agent link. We drive OpenSSL on the socket's fd
// ourselves (see conn.h) rather than through asio::ssl so that half-close maps
// onto a single close_notify while reads continue.

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace reitunnel::net {

struct SslCtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

struct TlsServerOptions {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // non-empty: require and verify client certs
};

struct TlsClientOptions {
  std::string ca_file;  // empty: system default roots
  std::string cert_file;
  std::string key_file;
};

absl::StatusOr<SslCtxPtr> MakeServerTlsContext(const TlsServerOptions& o);
absl::StatusOr<SslCtxPtr> MakeClientTlsContext(const TlsClientOptions& o);

// The last OpenSSL error queue entries as one line; clears the queue.
std::string TakeOpenSslError();

}  // namespace reitunnel::net
