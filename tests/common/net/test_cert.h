#pragma once

// A throwaway self-signed certificate (P-256, CN=localhost, SANs
// IP:127.0.0.1 and DNS:localhost, valid for a day) written as PEM files to
// a temporary directory that is removed with the object. Made with
// OpenSSL's API, so tests need no openssl binary.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "asio/awaitable.hpp"
#include "asio/experimental/awaitable_operators.hpp"
#include "common/net/tls.h"
#include "tests/common/transport/loopback.h"

namespace reitunnel::net::testing {

class TestCert {
 public:
  TestCert() {
    char tmpl[] = "/tmp/reitunnel-cert.XXXXXX";
    if (!mkdtemp(tmpl)) return;
    dir_ = tmpl;
    ok_ = Make();
  }
  ~TestCert() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  TestCert(const TestCert&) = delete;
  TestCert& operator=(const TestCert&) = delete;

  bool ok() const { return ok_; }
  std::string cert_file() const { return dir_ + "/cert.pem"; }
  std::string key_file() const { return dir_ + "/key.pem"; }

 private:
  bool Make() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    bool ok = key && x;
    if (ok) {
      X509_set_version(x, 2);
      ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
      X509_gmtime_adj(X509_getm_notBefore(x), -60);
      X509_gmtime_adj(X509_getm_notAfter(x), 86400);
      X509_set_pubkey(x, key);
      X509_NAME* name = X509_get_subject_name(x);
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
      X509_set_issuer_name(x, name);
      X509V3_CTX ctx;
      X509V3_set_ctx_nodb(&ctx);
      X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
      X509_EXTENSION* san =
          X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
      ok = san && X509_add_ext(x, san, -1) == 1;
      X509_EXTENSION_free(san);
      ok = ok && X509_sign(x, key, EVP_sha256()) > 0;
    }
    if (ok) ok = WritePem(cert_file(), [x](FILE* f) { return PEM_write_X509(f, x) == 1; });
    if (ok) {
      ok = WritePem(key_file(), [key](FILE* f) {
        return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
      });
    }
    X509_free(x);
    EVP_PKEY_free(key);
    return ok;
  }

  template <typename Fn>
  static bool WritePem(const std::string& path, Fn write) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return false;
    bool ok = write(f);
    return std::fclose(f) == 0 && ok;
  }

  std::string dir_;
  bool ok_ = false;
};

// Server and client contexts trusting the throwaway certificate.
struct TlsContexts {
  TestCert cert;
  SslCtxPtr server;
  SslCtxPtr client;

  bool Init() {
    if (!cert.ok()) return false;
    auto s = MakeServerTlsContext({cert.cert_file(), cert.key_file(), ""});
    auto c = MakeClientTlsContext({cert.cert_file(), "", ""});
    if (!s.ok() || !c.ok()) return false;
    server = std::move(*s);
    client = std::move(*c);
    return true;
  }
};

// A TCP pair with the TLS handshake done (client verifies 127.0.0.1).
inline asio::awaitable<transport::testing::ConnPair> TlsPair(const TlsContexts& tls) {
  using namespace asio::experimental::awaitable_operators;
  transport::testing::ConnPair p = co_await transport::testing::TcpPair();
  const std::string host = "127.0.0.1";
  co_await (p.client->TlsConnect(tls.client.get(), host) &&
            p.server->TlsAccept(tls.server.get()));
  co_return p;
}

}  // namespace reitunnel::net::testing
