#include "common/transport/tls/peer_certificate.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_replace.h"

namespace reitunnel::transport {
namespace {

std::string Bounded(std::string s, size_t max) {
  if (s.size() > max) s.resize(max);
  return s;
}

// Printable ASCII only: names go into logs and hook metadata.
std::string Printable(const unsigned char* p, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    unsigned char c = p[i];
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  return out;
}

std::string Subject(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  if (!name) return "";
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio) return "";
  // RFC 2253 with UTF-8 kept as is, then made printable below.
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    return "";
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || !data) return "";
  return Bounded(Printable(reinterpret_cast<const unsigned char*>(data), static_cast<int>(len)),
                 kMaxSubjectBytes);
}

std::string IpText(const ASN1_OCTET_STRING* ip) {
  const unsigned char* p = ASN1_STRING_get0_data(ip);
  const int n = ASN1_STRING_length(ip);
  char buf[INET6_ADDRSTRLEN] = {};
  if (n == 4 && inet_ntop(AF_INET, p, buf, sizeof(buf))) return buf;
  if (n == 16 && inet_ntop(AF_INET6, p, buf, sizeof(buf))) return buf;
  return "?";
}

std::vector<std::string> Sans(X509* cert) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  const int count = sk_GENERAL_NAME_num(names);
  for (int i = 0; i < count && out.size() < kMaxSans; ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    std::string text;
    switch (gn->type) {
      case GEN_DNS:
        text = "DNS:" + Printable(ASN1_STRING_get0_data(gn->d.dNSName),
                                  ASN1_STRING_length(gn->d.dNSName));
        break;
      case GEN_URI:
        text = "URI:" + Printable(ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
                                  ASN1_STRING_length(gn->d.uniformResourceIdentifier));
        break;
      case GEN_EMAIL:
        text = "email:" + Printable(ASN1_STRING_get0_data(gn->d.rfc822Name),
                                    ASN1_STRING_length(gn->d.rfc822Name));
        break;
      case GEN_IPADD:
        text = "IP:" + IpText(gn->d.iPAddress);
        break;
      default:
        continue;
    }
    out.push_back(Bounded(std::move(text), kMaxSanBytes));
  }
  GENERAL_NAMES_free(names);
  return out;
}

std::string Fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return "";
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(md), static_cast<size_t>(len)));
}

}  // namespace

std::string PeerCertificate::JoinedSans() const {
  std::string out;
  for (const auto& s : sans) {
    if (!out.empty()) out.push_back(',');
    out += absl::StrReplaceAll(s, {{",", "%2C"}});
  }
  return out;
}

PeerCertificate DescribeCertificate(X509* cert) {
  PeerCertificate c;
  if (!cert) return c;
  c.subject = Subject(cert);
  c.sans = Sans(cert);
  c.fingerprint_sha256 = Fingerprint(cert);
  return c;
}

std::optional<PeerCertificate> PeerCertificateOf(SSL* ssl) {
  if (!ssl) return std::nullopt;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return std::nullopt;
  PeerCertificate c = DescribeCertificate(cert);
  X509_free(cert);
  return c;
}

}  // namespace reitunnel::transport
