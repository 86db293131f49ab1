#include "common/http/basic_auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "common/http/ascii.h"

namespace reitunnel::http {
namespace {

std::string Sha256(std::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

BasicAuth BasicAuth::WithPassword(std::string_view user, std::string_view password) {
  return BasicAuth(Sha256(user), Sha256(password));
}

absl::StatusOr<BasicAuth> BasicAuth::WithPasswordSha256Hex(std::string_view user,
                                                           std::string_view sha256_hex) {
  if (sha256_hex.size() != 2 * SHA256_DIGEST_LENGTH) {
    return absl::InvalidArgumentError("password SHA-256 must be 64 hex digits");
  }
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  for (size_t i = 0; i < digest.size(); ++i) {
    int hi = HexValue(sha256_hex[2 * i]);
    int lo = HexValue(sha256_hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return absl::InvalidArgumentError("password SHA-256 must be 64 hex digits");
    digest[i] = static_cast<char>(hi * 16 + lo);
  }
  return BasicAuth(Sha256(user), std::move(digest));
}

bool BasicAuth::Matches(std::string_view user, std::string_view password) const {
  // Both digests are always computed and compared, and the results combined
  // without short-circuiting, so timing reveals neither which part was wrong
  // nor how long the right values are.
  std::string u = Sha256(user);
  std::string p = Sha256(password);
  int user_diff = CRYPTO_memcmp(u.data(), user_digest_.data(), SHA256_DIGEST_LENGTH);
  int pass_diff = CRYPTO_memcmp(p.data(), password_digest_.data(), SHA256_DIGEST_LENGTH);
  return (user_diff | pass_diff) == 0;
}

bool BasicAuth::Check(const RequestHead& head) const {
  if (head.Count("Authorization") != 1) return false;
  std::string user;
  std::string password;
  if (!ParseBasicCredentials(head.Find("Authorization")->value, &user, &password)) return false;
  return Matches(user, password);
}

bool ParseBasicCredentials(std::string_view authorization, std::string* user,
                           std::string* password) {
  constexpr std::string_view kScheme = "basic";
  if (authorization.size() <= kScheme.size() ||
      !EqualsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme) ||
      authorization[kScheme.size()] != ' ') {
    return false;
  }
  std::string_view token = TrimOws(authorization.substr(kScheme.size()));
  if (token.empty()) return false;
  for (char c : token) {
    bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/' || c == '=';
    if (!b64) return false;
  }
  std::string decoded;
  if (!absl::Base64Unescape(absl::string_view(token.data(), token.size()), &decoded)) return false;
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  *user = decoded.substr(0, colon);
  *password = decoded.substr(colon + 1);
  return true;
}

}  // namespace reitunnel::http
