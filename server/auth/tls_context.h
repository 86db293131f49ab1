#pragma once

// The agent listener's TLS context, replaceable at run time (SIGHUP reloads
// certificates): new handshakes use the new one, established connections
// keep theirs (OpenSSL reference-counts contexts).

#include <openssl/ssl.h>

#include <memory>
#include <mutex>

#include "common/net/tls.h"

namespace reitunnel::server {

class TlsContext {
 public:
  explicit TlsContext(net::SslCtxPtr ctx) { Set(std::move(ctx)); }

  // Holds a reference for as long as the caller needs it.
  std::shared_ptr<SSL_CTX> Get() const {
    std::lock_guard<std::mutex> l(mu_);
    return ctx_;
  }
  void Set(net::SslCtxPtr ctx) {
    std::shared_ptr<SSL_CTX> s(ctx.release(), [](SSL_CTX* c) { SSL_CTX_free(c); });
    std::lock_guard<std::mutex> l(mu_);
    ctx_ = std::move(s);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<SSL_CTX> ctx_;
};

}  // namespace reitunnel::server
