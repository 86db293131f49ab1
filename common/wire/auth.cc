#include "common/wire/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace reitunnel::wire {

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::abort();
  }
  return out;
}

std::string RandomId(size_t bytes) { return absl::BytesToHexString(RandomBytes(bytes)); }

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string HandshakeMac(std::string_view key, v1::ConnectionKind kind, std::string_view nonce,
                         std::string_view client_id) {
  // Length-prefixing client_id keeps the transcript unambiguous.
  std::string transcript = absl::StrCat("reitunnel/1 hello ", static_cast<int>(kind), " ",
                                        client_id.size(), ":");
  transcript.append(client_id).append(" ").append(nonce);
  return HmacSha256(key, transcript);
}

std::string DeriveSessionKey(std::string_view token, std::string_view session_nonce,
                             std::string_view client_id) {
  std::string transcript = absl::StrCat("reitunnel/1 session ", client_id.size(), ":");
  transcript.append(client_id).append(" ").append(session_nonce);
  return HmacSha256(token, transcript);
}

std::string IdentityKey(std::string_view token) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), out);
  return std::string(reinterpret_cast<char*>(out), sizeof(out));
}

std::string AgentProofKey(std::string_view token, std::string_view agent_id) {
  return agent_id.empty() ? std::string(token) : IdentityKey(token);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace reitunnel::wire
