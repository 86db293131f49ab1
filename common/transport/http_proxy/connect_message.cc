#include "common/transport/http_proxy/connect_message.h"

#include <openssl/evp.h>

#include "absl/strings/str_cat.h"
#include "common/transport/http1/head.h"
#include "common/transport/url/host_port.h"

namespace reitunnel::transport {
namespace {

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace

std::string BuildConnectRequest(const std::string& target_host, uint16_t target_port,
                                const ProxyCredentials* creds) {
  const std::string target = url::JoinHostPort(target_host, target_port);
  std::string out = absl::StrCat("CONNECT ", target, " HTTP/1.1\r\nHost: ", target, "\r\n");
  if (creds) {
    absl::StrAppend(&out, "Proxy-Authorization: Basic ",
                    Base64(absl::StrCat(creds->user, ":", creds->password)), "\r\n");
  }
  out += "\r\n";
  return out;
}

absl::Status CheckConnectResponse(std::string_view head, const std::string& target,
                                  bool sent_credentials) {
  absl::StatusOr<http1::ResponseHead> r = http1::ParseResponseHead(head);
  if (!r.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("HTTP proxy sent a malformed answer to CONNECT ",
                                                   target, ": ", r.status().message()));
  }
  if (r->status >= 200 && r->status < 300) return absl::OkStatus();
  // 407 is the standard answer; some proxies (tinyproxy 1.11) answer a
  // CONNECT with 401. Before the tunnel exists only the proxy can answer,
  // so both mean the proxy wants credentials.
  if (r->status == 407 || r->status == 401) {
    return absl::UnauthenticatedError(absl::StrCat(
        sent_credentials ? "proxy authentication failed (credentials rejected)"
                         : "proxy authentication required (give user:password in the proxy URL)",
        ": ", r->status_line));
  }
  return absl::PermissionDeniedError(
      absl::StrCat("HTTP proxy refused CONNECT ", target, ": ", r->status_line));
}

}  // namespace reitunnel::transport
