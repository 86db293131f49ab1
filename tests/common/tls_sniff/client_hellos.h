#pragma once

// ClientHellos for the tests: real ones from an OpenSSL client talking into a
// memory BIO, and hand-built ones for the malformed cases.

#include <openssl/ssl.h>

#include <cstdint>
#include <string>
#include <vector>

namespace reitunnel::tls_sniff::testing {

struct HelloOptions {
  const char* server_name = nullptr;
  std::vector<std::string> alpn;
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  unsigned max_fragment = 0;  // 0: OpenSSL's default (16 KiB records)
  bool padding = false;       // RFC 7685 padding extension
};

// The bytes an OpenSSL client sends first: its ClientHello, in TLS records.
inline std::string OpenSslClientHello(const HelloOptions& o) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, o.min_version);
  SSL_CTX_set_max_proto_version(ctx, o.max_version);
  if (o.padding) SSL_CTX_set_options(ctx, SSL_OP_TLSEXT_PADDING);
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);  // ssl owns both
  if (o.server_name != nullptr) SSL_set_tlsext_host_name(ssl, o.server_name);
  if (!o.alpn.empty()) {
    std::string wire;
    for (const std::string& p : o.alpn) {
      wire.push_back(static_cast<char>(p.size()));
      wire += p;
    }
    SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()),
                        static_cast<unsigned>(wire.size()));
  }
  if (o.max_fragment != 0) SSL_set_max_send_fragment(ssl, o.max_fragment);
  SSL_set_connect_state(ssl);
  SSL_do_handshake(ssl);  // stops wanting to read the ServerHello
  char* data = nullptr;
  long len = BIO_get_mem_data(out, &data);
  std::string bytes(data, static_cast<size_t>(len));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return bytes;
}

inline std::string U8(size_t v) { return std::string(1, static_cast<char>(v & 0xff)); }
inline std::string U16(size_t v) { return U8(v >> 8) + U8(v); }
inline std::string U24(size_t v) { return U8(v >> 16) + U16(v); }

inline std::string Extension(uint16_t type, const std::string& data) {
  return U16(type) + U16(data.size()) + data;
}
inline std::string ServerNameExtension(const std::string& name, uint8_t name_type = 0) {
  std::string entry = U8(name_type) + U16(name.size()) + name;
  return Extension(0, U16(entry.size()) + entry);
}
inline std::string AlpnExtension(const std::vector<std::string>& protocols) {
  std::string list;
  for (const std::string& p : protocols) list += U8(p.size()) + p;
  return Extension(16, U16(list.size()) + list);
}

// A ClientHello body; `extensions` is the concatenation of Extension()s.
// With has_extensions=false the extensions block is left out entirely.
inline std::string HelloBody(const std::string& extensions, bool has_extensions = true) {
  std::string body = U16(0x0303) + std::string(32, 'r');
  body += U8(0);                 // session id
  body += U16(2) + U16(0x1301);  // one cipher suite
  body += U8(1) + U8(0);         // null compression
  if (has_extensions) body += U16(extensions.size()) + extensions;
  return body;
}

inline std::string Handshake(const std::string& body, uint8_t type = 1) {
  return U8(type) + U24(body.size()) + body;
}

// Wraps handshake bytes into records of at most `fragment` payload bytes.
inline std::string Records(const std::string& handshake, size_t fragment = 16384,
                           uint8_t content_type = 22) {
  std::string out;
  for (size_t i = 0; i < handshake.size(); i += fragment) {
    std::string piece = handshake.substr(i, fragment);
    out += U8(content_type) + U16(0x0301) + U16(piece.size()) + piece;
  }
  return out;
}

// The handshake bytes inside a run of records (test input is well-formed).
inline std::string Unwrap(const std::string& records, size_t* record_count = nullptr) {
  std::string handshake;
  size_t count = 0;
  for (size_t i = 0; i + 5 <= records.size(); ++count) {
    size_t len = static_cast<uint8_t>(records[i + 3]) << 8 | static_cast<uint8_t>(records[i + 4]);
    handshake += records.substr(i + 5, len);
    i += 5 + len;
  }
  if (record_count != nullptr) *record_count = count;
  return handshake;
}

}  // namespace reitunnel::tls_sniff::testing
