#pragma once

// Throwaway certificates made in memory with OpenSSL for transport tests: a
// CA, and leaf certificates it signs with chosen subjects and SANs, written
// as PEM files into a temporary directory.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace reitunnel::transport::testing {

struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertDeleter {
  void operator()(X509* c) const { X509_free(c); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using CertPtr = std::unique_ptr<X509, CertDeleter>;

inline KeyPtr NewKey() { return KeyPtr(EVP_EC_gen("P-256")); }

struct Issued {
  KeyPtr key;
  CertPtr cert;
};

// `sans`: "DNS:x", "IP:1.2.3.4", "URI:spiffe://...", "email:a@b" (empty: none).
// `ca` null: self-signed CA.
inline Issued Issue(const std::vector<std::pair<std::string, std::string>>& subject,
                    const std::string& sans, const Issued* ca, bool client_auth = false) {
  Issued out{NewKey(), CertPtr(X509_new())};
  X509* c = out.cert.get();
  X509_set_version(c, 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(c), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(c), -60);
  X509_gmtime_adj(X509_getm_notAfter(c), 86400);
  X509_set_pubkey(c, out.key.get());
  X509_NAME* name = X509_get_subject_name(c);
  for (const auto& [k, v] : subject) {
    X509_NAME_add_entry_by_txt(name, k.c_str(), MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(v.c_str()), -1, -1, 0);
  }
  X509_set_issuer_name(c, ca ? X509_get_subject_name(ca->cert.get()) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca ? ca->cert.get() : c, c, nullptr, nullptr, 0);
  auto add = [&](int nid, const std::string& value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    ASSERT_NE(ext, nullptr) << value;
    X509_add_ext(c, ext, -1);
    X509_EXTENSION_free(ext);
  };
  if (!ca) {
    add(NID_basic_constraints, "critical,CA:TRUE");
    add(NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add(NID_basic_constraints, "CA:FALSE");
    add(NID_ext_key_usage, client_auth ? "clientAuth" : "serverAuth");
  }
  if (!sans.empty()) add(NID_subject_alt_name, sans);
  EXPECT_GT(X509_sign(c, ca ? ca->key.get() : out.key.get(), EVP_sha256()), 0);
  return out;
}

// A temporary directory with PEM files, removed at the end of the test.
class PemDir {
 public:
  PemDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "reitunnel_pki_XXXXXX");
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = tmpl;
  }
  ~PemDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  // Writes NAME.pem and NAME.key; returns the directory path + "/NAME".
  std::string Write(const std::string& name, const Issued& i) const {
    const std::string base = path_ + "/" + name;
    FILE* f = std::fopen((base + ".pem").c_str(), "w");
    PEM_write_X509(f, i.cert.get());
    std::fclose(f);
    f = std::fopen((base + ".key").c_str(), "w");
    PEM_write_PrivateKey(f, i.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    return base;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace reitunnel::transport::testing
