#include "client/routed_request.h"

#include <openssl/sha.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"

namespace reitunnel::client {

namespace {

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return absl::BytesToHexString(
      std::string(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

}  // namespace

void FillRoutedRequest(const config::v1::TunnelConfig& t, wire::v1::OpenTunnel* out) {
  out->set_kind(t.kind() == "http" ? wire::v1::TUNNEL_KIND_HTTP : wire::v1::TUNNEL_KIND_TLS);
  out->set_hostname(t.hostname());
  out->set_remote_port(0);
  if (t.kind() != "http") return;
  auto* http = out->mutable_http();
  http->set_x_forwarded(!t.http().has_x_forwarded() || t.http().x_forwarded());
  if (t.http().basic_auth_user().empty()) return;
  http->set_basic_auth_user(t.http().basic_auth_user());
  http->set_basic_auth_password_sha256(
      t.http().basic_auth_password_sha256().empty()
          ? Sha256Hex(t.http().basic_auth_password())
          : absl::AsciiStrToLower(t.http().basic_auth_password_sha256()));
}

}  // namespace reitunnel::client
