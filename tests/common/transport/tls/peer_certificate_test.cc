#include "common/transport/tls/peer_certificate.h"

#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "tests/common/transport/tls/test_pki.h"

namespace reitunnel::transport {
namespace {

using testing::Issue;

std::string DerSha256(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(len), md);
  OPENSSL_free(der);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(md), sizeof(md)));
}

TEST(PeerCertificateTest, SubjectSansAndFingerprint) {
  auto ca = Issue({{"CN", "test-ca"}}, "", nullptr);
  auto leaf = Issue({{"O", "Example"}, {"CN", "agent-7"}},
                    "DNS:agent-7.example.com,IP:10.1.2.3,IP:fd00::1,URI:spiffe://example/agent-7,"
                    "email:ops@example.com",
                    &ca, /*client_auth=*/true);
  PeerCertificate c = DescribeCertificate(leaf.cert.get());
  // RFC 2253 lists the most specific RDN first.
  EXPECT_EQ(c.subject, "CN=agent-7,O=Example");
  EXPECT_EQ(c.sans, (std::vector<std::string>{"DNS:agent-7.example.com", "IP:10.1.2.3",
                                              "IP:fd00::1", "URI:spiffe://example/agent-7",
                                              "email:ops@example.com"}));
  EXPECT_EQ(c.fingerprint_sha256, DerSha256(leaf.cert.get()));
  EXPECT_EQ(c.fingerprint_sha256.size(), 64u);
  EXPECT_EQ(c.JoinedSans(),
            "DNS:agent-7.example.com,IP:10.1.2.3,IP:fd00::1,URI:spiffe://example/agent-7,"
            "email:ops@example.com");
}

TEST(PeerCertificateTest, HostileNamesAreBoundedAndPrintable) {
  auto ca = Issue({{"CN", "test-ca"}}, "", nullptr);
  std::string sans;
  for (int i = 0; i < 50; ++i) sans += (i ? ",DNS:" : "DNS:") + std::string(300, 'a' + i % 26);
  auto leaf = Issue({{"CN", std::string(2000, 'x')}}, sans, &ca, true);
  PeerCertificate c = DescribeCertificate(leaf.cert.get());
  EXPECT_LE(c.subject.size(), kMaxSubjectBytes);
  EXPECT_EQ(c.sans.size(), kMaxSans);
  for (const auto& s : c.sans) EXPECT_LE(s.size(), kMaxSanBytes);

  auto odd = Issue({{"CN", "a\nb\x7f"}}, "", &ca, true);
  PeerCertificate o = DescribeCertificate(odd.cert.get());
  EXPECT_FALSE(o.subject.empty());
  for (char ch : o.subject) EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << o.subject;
}

TEST(PeerCertificateTest, JoinedSansEscapesCommas) {
  PeerCertificate p;
  p.sans = {"URI:urn:x,y", "DNS:a"};
  EXPECT_EQ(p.JoinedSans(), "URI:urn:x%2Cy,DNS:a");
}

TEST(PeerCertificateTest, NoCertificate) {
  EXPECT_EQ(PeerCertificateOf(nullptr), std::nullopt);
  PeerCertificate c = DescribeCertificate(nullptr);
  EXPECT_TRUE(c.subject.empty());
  EXPECT_TRUE(c.fingerprint_sha256.empty());
}

}  // namespace
}  // namespace reitunnel::transport
