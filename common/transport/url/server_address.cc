#include "common/transport/url/server_address.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/transport/url/host_port.h"

namespace reitunnel::transport::url {
namespace {

absl::Status Invalid(absl::string_view what) {
  // Callers name the flag or field; the message says only what is wrong.
  return absl::InvalidArgumentError(what);
}

// Visible ASCII except '#': the request target goes into the request line
// as it is.
bool IsValidPath(std::string_view p) {
  if (p.empty() || p.front() != '/') return false;
  for (unsigned char c : p) {
    if (c <= 0x20 || c >= 0x7f || c == '#') return false;
  }
  return true;
}

}  // namespace

std::string ServerAddress::HostPort() const { return JoinHostPort(host, port); }

std::string ServerAddress::HostHeader() const {
  const bool default_port =
      (scheme == LinkScheme::kWs && port == 80) || (scheme == LinkScheme::kWss && port == 443);
  return default_port ? UrlHost(host) : JoinHostPort(host, port);
}

const char* ServerAddress::scheme_name() const {
  switch (scheme) {
    case LinkScheme::kTcp:
      return "tcp";
    case LinkScheme::kWs:
      return "ws";
    case LinkScheme::kWss:
      return "wss";
  }
  return "?";
}

absl::StatusOr<ServerAddress> ParseServerAddress(std::string_view s) {
  if (s.empty()) return Invalid("empty (expected HOST:PORT, ws://HOST[:PORT]/PATH or wss://...)");
  ServerAddress out;
  const size_t sep = s.find("://");
  if (sep == std::string_view::npos) {
    absl::StatusOr<HostAndPort> hp = ParseHostAndPort(s);
    if (!hp.ok()) return Invalid(hp.status().message());
    if (!hp->port) return Invalid("missing port (expected HOST:PORT)");
    out.host = std::move(hp->host);
    out.port = *hp->port;
    return out;
  }
  const std::string scheme = absl::AsciiStrToLower(std::string(s.substr(0, sep)));
  if (scheme == "ws") {
    out.scheme = LinkScheme::kWs;
  } else if (scheme == "wss") {
    out.scheme = LinkScheme::kWss;
  } else {
    return Invalid("unsupported scheme (expected ws://, wss:// or HOST:PORT without a scheme)");
  }
  std::string_view rest = s.substr(sep + 3);
  const size_t path_at = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view path = path_at == std::string_view::npos ? "" : rest.substr(path_at);
  if (authority.find('@') != std::string_view::npos) {
    return Invalid("credentials in the server URL are not supported");
  }
  absl::StatusOr<HostAndPort> hp = ParseHostAndPort(authority);
  if (!hp.ok()) return Invalid(hp.status().message());
  out.host = std::move(hp->host);
  out.port = hp->port.value_or(out.scheme == LinkScheme::kWss ? 443 : 80);
  if (!path.empty() && path.front() == '?') {
    out.path = std::string(kDefaultWsPath) + std::string(path);
  } else if (path.empty()) {
    out.path = std::string(kDefaultWsPath);
  } else {
    out.path = std::string(path);
  }
  if (!IsValidPath(out.path)) {
    return Invalid("path may only contain visible ASCII characters and no '#'");
  }
  return out;
}

}  // namespace reitunnel::transport::url
