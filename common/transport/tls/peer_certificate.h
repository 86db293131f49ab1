#pragma once

// What a verified client certificate says about the agent, for hooks
// (metadata tls.subject, tls.san, tls.fingerprint_sha256) and operators.
// Every field is bounded: a certificate is attacker-chosen input until the
// CA vouched for it, and even then it is the CA's idea of a name.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <optional>
#include <string>
#include <vector>

namespace reitunnel::transport {

inline constexpr size_t kMaxSubjectBytes = 1024;
inline constexpr size_t kMaxSans = 32;
inline constexpr size_t kMaxSanBytes = 256;

struct PeerCertificate {
  // RFC 2253 form, most specific first: "CN=agent-7,O=Example".
  std::string subject;
  // "DNS:agent-7.example.com", "IP:10.1.2.3", "URI:spiffe://example/agent-7",
  // "email:ops@example.com", in certificate order; other kinds are skipped.
  std::vector<std::string> sans;
  // SHA-256 over the DER certificate, 64 lower-case hex digits (the form of
  // Envoy's x-forwarded-client-cert Hash).
  std::string fingerprint_sha256;

  // The SANs joined with ","; a comma inside a name is written "%2C".
  std::string JoinedSans() const;
};

PeerCertificate DescribeCertificate(X509* cert);

// The peer's certificate on an established TLS session, if it sent one
// (the handshake already verified it against the configured client CA).
std::optional<PeerCertificate> PeerCertificateOf(SSL* ssl);

}  // namespace reitunnel::transport
