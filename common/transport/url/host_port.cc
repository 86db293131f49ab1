#include "common/transport/url/host_port.h"

#include <arpa/inet.h>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace reitunnel::transport::url {
namespace {

absl::Status Invalid(absl::string_view what) { return absl::InvalidArgumentError(what); }

absl::StatusOr<uint16_t> ParsePort(std::string_view s) {
  if (s.empty()) return Invalid("empty port");
  if (s.size() > 5) return Invalid("port must be a number from 1 to 65535");
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return Invalid("port must be a number from 1 to 65535");
    }
  }
  uint32_t v = 0;
  for (char c : s) v = v * 10 + static_cast<uint32_t>(c - '0');
  if (v == 0 || v > 65535) {
    return Invalid("port must be a number from 1 to 65535");
  }
  return static_cast<uint16_t>(v);
}

absl::Status CheckHostname(std::string_view h) {
  if (h.empty()) return Invalid("missing host");
  if (h.size() > 253) return Invalid("host name longer than 253 characters");
  for (char c : h) {
    const auto u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || c == '-' || c == '.' || c == '_') continue;
    return Invalid("host name may only contain letters, digits, '-', '.' and '_'");
  }
  return absl::OkStatus();
}

}  // namespace

bool IsIpv6Literal(std::string_view s) {
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN) return false;
  std::string z(s);
  in6_addr a;
  return inet_pton(AF_INET6, z.c_str(), &a) == 1;
}

bool IsIpv4Literal(std::string_view s) {
  if (s.empty() || s.size() >= INET_ADDRSTRLEN) return false;
  std::string z(s);
  in_addr a;
  return inet_pton(AF_INET, z.c_str(), &a) == 1;
}

absl::StatusOr<HostAndPort> ParseHostAndPort(std::string_view s) {
  HostAndPort out;
  std::string_view rest;
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) return Invalid("missing ']' after IPv6 address");
    const std::string_view v6 = s.substr(1, close - 1);
    if (!IsIpv6Literal(v6)) return Invalid("invalid IPv6 address");
    out.host = std::string(v6);
    rest = s.substr(close + 1);
  } else {
    const size_t colon = s.find(':');
    const std::string_view host = s.substr(0, colon);
    if (colon != std::string_view::npos && s.find(':', colon + 1) != std::string_view::npos) {
      return Invalid("IPv6 addresses need brackets, e.g. [::1]:7000");
    }
    if (absl::Status st = CheckHostname(host); !st.ok()) return st;
    out.host = std::string(host);
    rest = colon == std::string_view::npos ? std::string_view() : s.substr(colon);
  }
  if (!rest.empty()) {
    if (rest.front() != ':') return Invalid("unexpected characters after the host");
    absl::StatusOr<uint16_t> port = ParsePort(rest.substr(1));
    if (!port.ok()) return port.status();
    out.port = *port;
  }
  return out;
}

std::string UrlHost(std::string_view host) {
  if (host.find(':') != std::string_view::npos) return absl::StrCat("[", std::string(host), "]");
  return std::string(host);
}

std::string JoinHostPort(std::string_view host, uint16_t port) {
  return absl::StrCat(UrlHost(host), ":", port);
}

}  // namespace reitunnel::transport::url
