#include "common/transport/url/proxy_url.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/transport/url/host_port.h"
#include "common/transport/url/percent.h"

namespace reitunnel::transport::url {
namespace {

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("proxy URL: ", what));
}

bool IsSchemeChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
}

}  // namespace

std::string ProxyUrl::HostPort() const { return JoinHostPort(host, port); }

std::string ProxyUrl::Redacted() const {
  if (!credentials) return absl::StrCat("http://", HostPort());
  // The user name is not secret by itself but may be percent-encoded
  // anything; only printable ASCII is shown.
  std::string user;
  for (char c : credentials->user) {
    user.push_back(absl::ascii_isgraph(static_cast<unsigned char>(c)) ? c : '?');
  }
  return absl::StrCat("http://", user, ":***@", HostPort());
}

absl::StatusOr<ProxyUrl> ParseProxyUrl(std::string_view s) {
  if (s.empty()) return Invalid("empty");
  std::string_view rest = s;
  const size_t sep = s.find("://");
  if (sep != std::string_view::npos) {
    const std::string_view raw_scheme = s.substr(0, sep);
    bool scheme_ok = !raw_scheme.empty();
    for (char c : raw_scheme) scheme_ok = scheme_ok && IsSchemeChar(c);
    if (!scheme_ok) return Invalid("malformed scheme");
    const std::string scheme = absl::AsciiStrToLower(std::string(raw_scheme));
    if (scheme == "https") {
      return absl::UnimplementedError(
          "proxy URL: https:// proxies are not supported (use an http:// proxy; the tunnel "
          "inside it is still TLS when the server address is wss:// or TLS is on)");
    }
    if (scheme == "socks" || scheme == "socks4" || scheme == "socks4a" || scheme == "socks5" ||
        scheme == "socks5h") {
      return absl::UnimplementedError(
          "proxy URL: SOCKS proxies are not supported (only http:// CONNECT proxies)");
    }
    if (scheme != "http") {
      return absl::UnimplementedError(absl::StrCat("proxy URL: unsupported proxy scheme '",
                                                   scheme.substr(0, 16), "' (only http://)"));
    }
    rest = s.substr(sep + 3);
  }
  // The path, query and fragment are ignored, as curl does.
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  ProxyUrl out;
  // The last '@' ends the user info, so an unencoded '@' in a password still
  // works.
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const size_t colon = userinfo.find(':');
    absl::StatusOr<std::string> user = PercentDecode(userinfo.substr(0, colon));
    if (!user.ok()) return Invalid(absl::StrCat("user name: ", user.status().message()));
    std::string password;
    if (colon != std::string_view::npos) {
      absl::StatusOr<std::string> p = PercentDecode(userinfo.substr(colon + 1));
      if (!p.ok()) return Invalid(absl::StrCat("password: ", p.status().message()));
      password = std::move(*p);
    }
    out.credentials = ProxyCredentials{std::move(*user), std::move(password)};
  }
  absl::StatusOr<HostAndPort> hp = ParseHostAndPort(authority);
  if (!hp.ok()) return Invalid(hp.status().message());
  out.host = std::move(hp->host);
  out.port = hp->port.value_or(kDefaultProxyPort);
  return out;
}

}  // namespace reitunnel::transport::url
