#include "common/config/parse.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/hostname/hostname.h"

namespace reitunnel::config {
namespace {

constexpr char kTunnelSyntax[] = "expected NAME=REMOTE_PORT:LOCAL_HOST:LOCAL_PORT";
constexpr char kNameRule[] = "1-64 characters from A-Z a-z 0-9 _ . -";

absl::Status Invalid(std::string_view msg) { return absl::InvalidArgumentError(std::string(msg)); }

// Decimal 0..65535 with no sign or spaces; nullopt otherwise.
std::optional<uint32_t> ParsePortNumber(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return std::nullopt;
  return v;
}

bool IsIPv6Literal(std::string_view s) {
  // Zone ids ("fe80::1%eth0") are legal in addresses but not for inet_pton.
  std::string addr(s.substr(0, s.find('%')));
  if (addr.size() != s.size() && addr.size() + 1 == s.size()) return false;  // empty zone
  in6_addr out;
  return ::inet_pton(AF_INET6, addr.c_str(), &out) == 1;
}

// Hostname or IPv4 (IPv6 is handled by the callers, which see the brackets).
absl::Status CheckPlainHost(std::string_view host) {
  if (host.empty()) return Invalid("missing host");
  if (host.size() > 253) return Invalid("host name too long");
  bool numeric = true;
  for (char c : host) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (!absl::ascii_isalnum(u) && c != '.' && c != '-' && c != '_') {
      return Invalid("invalid character in host");
    }
    if (!absl::ascii_isdigit(u) && c != '.') numeric = false;
  }
  if (numeric) {
    in_addr out;
    if (::inet_pton(AF_INET, std::string(host).c_str(), &out) != 1) {
      return Invalid("invalid IPv4 address");
    }
    return absl::OkStatus();
  }
  if (host.front() == '.' || host.front() == '-' || host.find("..") != std::string_view::npos) {
    return Invalid("invalid host name");
  }
  return absl::OkStatus();
}

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

// host:port with a non-zero port, for addresses something connects to.
absl::Status CheckDialAddress(std::string_view s) {
  absl::StatusOr<HostPort> hp = ParseHostPort(s);
  if (!hp.ok()) return hp.status();
  if (hp->port == 0) return Invalid("port must be from 1 to 65535");
  return absl::OkStatus();
}

}  // namespace

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<HostPort> ParseHostPort(std::string_view s) {
  if (s.empty()) return Invalid("empty address (expected HOST:PORT)");
  if (s.find("://") != std::string_view::npos) return Invalid("expected HOST:PORT, not a URL");
  HostPort out;
  std::string_view port_text;
  if (s.front() == '[') {
    const std::size_t close = s.find(']');
    if (close == std::string_view::npos) return Invalid("missing ']' after IPv6 address");
    const std::string_view host = s.substr(1, close - 1);
    if (!IsIPv6Literal(host)) return Invalid("invalid IPv6 address");
    const std::string_view rest = s.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return Invalid("missing port (expected [IPV6]:PORT)");
    out.host = std::string(host);
    port_text = rest.substr(1);
  } else {
    const std::size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return Invalid("missing port (expected HOST:PORT)");
    const std::string_view host = s.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return Invalid("IPv6 addresses need brackets (expected [IPV6]:PORT, e.g. [::1]:7000)");
    }
    if (host.empty()) return Invalid("missing host (expected HOST:PORT)");
    if (absl::Status st = CheckPlainHost(host); !st.ok()) return st;
    out.host = std::string(host);
    port_text = s.substr(colon + 1);
  }
  if (port_text.empty()) return Invalid("missing port (expected HOST:PORT)");
  const std::optional<uint32_t> port = ParsePortNumber(port_text);
  if (!port) return Invalid("port must be a number from 0 to 65535");
  out.port = static_cast<uint16_t>(*port);
  return out;
}

absl::StatusOr<std::string> ParseHost(std::string_view s) {
  if (s.empty()) return Invalid("empty host");
  if (s.front() == '[') {
    if (s.size() < 2 || s.back() != ']') return Invalid("missing ']' after IPv6 address");
    s = s.substr(1, s.size() - 2);
    if (!IsIPv6Literal(s)) return Invalid("invalid IPv6 address");
    return std::string(s);
  }
  if (s.find(':') != std::string_view::npos) {
    if (!IsIPv6Literal(s)) return Invalid("invalid IPv6 address (a host here takes no port)");
    return std::string(s);
  }
  if (absl::Status st = CheckPlainHost(s); !st.ok()) return st;
  return std::string(s);
}

absl::StatusOr<PortRange> ParsePortRange(std::string_view s) {
  constexpr char kSyntax[] = "not a port range (expected LOW-HIGH or PORT, e.g. 20000-20100)";
  const std::size_t dash = s.find('-');
  const std::string_view low_text = s.substr(0, dash);
  const std::string_view high_text = dash == std::string_view::npos ? s : s.substr(dash + 1);
  const std::optional<uint32_t> low = ParsePortNumber(low_text);
  const std::optional<uint32_t> high = ParsePortNumber(high_text);
  if (!low || !high) {
    // All digits but too long or too big reads better as a range problem.
    auto all_digits = [](std::string_view t) {
      if (t.empty()) return false;
      for (char c : t) {
        if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
      }
      return true;
    };
    if (all_digits(low_text) && all_digits(high_text)) {
      return Invalid("ports must be from 1 to 65535");
    }
    return Invalid(kSyntax);
  }
  if (*low == 0 || *high == 0) return Invalid("ports must be from 1 to 65535");
  if (*low > *high) {
    return Invalid(absl::StrCat("low port ", *low, " is above high port ", *high));
  }
  return PortRange{static_cast<uint16_t>(*low), static_cast<uint16_t>(*high)};
}

absl::Status CheckProxyProtocolVersion(std::string_view v) {
  if (v.empty() || v == "v1" || v == "v2") return absl::OkStatus();
  return Invalid(absl::StrCat("proxy_protocol must be v1 or v2, not ",
                              "\"", std::string(v), "\""));
}

absl::Status CheckTunnelHostname(std::string_view pattern) {
  std::string_view name = pattern;
  const bool wildcard = name.substr(0, 2) == "*.";
  if (wildcard) name.remove_prefix(2);
  std::optional<std::string> canonical = hostname::Normalize(name);
  if (!canonical || canonical->size() + (wildcard ? 2 : 0) > hostname::kMaxLength) {
    return Invalid(
        "invalid hostname: want a DNS name (letters, digits, '-', '.'; punycode for IDNs) or "
        "'*.' followed by one");
  }
  return absl::OkStatus();
}

absl::StatusOr<reitunnel::config::v1::TunnelConfig> ParseTunnelSpec(std::string_view spec) {
  // NAME=[KIND:]PORT_OR_HOSTNAME:HOST:PORT[,OPTION=VALUE]...; a local
  // address has no comma.
  std::vector<std::string_view> parts;
  for (std::size_t at = 0;;) {
    const std::size_t comma = spec.find(',', at);
    parts.push_back(spec.substr(at, comma == std::string_view::npos ? comma : comma - at));
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  const std::string_view s = parts.front();
  const std::size_t eq = s.find('=');
  if (eq == std::string_view::npos)
    return Invalid(absl::StrCat("missing '=' (", kTunnelSyntax, ")"));
  const std::string_view name = s.substr(0, eq);
  if (!IsValidTunnelName(name))
    return Invalid(absl::StrCat("invalid tunnel name (", kNameRule, ")"));
  std::string_view rest = s.substr(eq + 1);
  reitunnel::config::v1::TunnelConfig out;
  out.set_name(std::string(name));
  // An optional kind: "tcp:" is the default and may be written out.
  if (rest.substr(0, 4) == "tcp:") rest.remove_prefix(4);
  if (rest.substr(0, 4) == "udp:") {
    rest.remove_prefix(4);
    out.set_kind("udp");
  }
  for (std::string_view kind : {"http", "tls"}) {
    if (rest.substr(0, kind.size()) != kind || rest.substr(kind.size(), 1) != ":") continue;
    rest.remove_prefix(kind.size() + 1);
    const std::size_t colon = rest.find(':');
    if (colon == std::string_view::npos) {
      return Invalid(absl::StrCat("missing local address (expected NAME=", std::string(kind),
                                  ":HOSTNAME:LOCAL_HOST:LOCAL_PORT)"));
    }
    if (absl::Status st = CheckTunnelHostname(rest.substr(0, colon)); !st.ok()) return st;
    out.set_kind(std::string(kind));
    out.set_hostname(std::string(rest.substr(0, colon)));
    rest.remove_prefix(colon);  // keeps ":LOCAL" so the TCP path below reads "0:LOCAL"
    break;
  }
  std::string_view local;
  if (out.kind() == "http" || out.kind() == "tls") {
    local = rest.substr(1);
  } else {
    const std::size_t colon = rest.find(':');
    if (colon == std::string_view::npos) {
      return Invalid(absl::StrCat("missing local address (", kTunnelSyntax, ")"));
    }
    const std::optional<uint32_t> remote = ParsePortNumber(rest.substr(0, colon));
    if (!remote) {
      return Invalid(
          absl::StrCat("remote port must be a number from 0 to 65535 (", kTunnelSyntax, ")"));
    }
    out.set_remote_port(*remote);
    local = rest.substr(colon + 1);
  }
  if (absl::Status st = CheckDialAddress(local); !st.ok()) {
    return Invalid(absl::StrCat("local address: ", std::string(st.message())));
  }
  out.set_local_addr(std::string(local));
  const bool http = out.kind() == "http";
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const std::size_t oeq = parts[i].find('=');
    const std::string_view key = parts[i].substr(0, oeq);
    const std::string_view value =
        oeq == std::string_view::npos ? std::string_view() : parts[i].substr(oeq + 1);
    if (key == "proxy_protocol") {
      if (value.empty()) return Invalid("proxy_protocol needs a value: v1 or v2");
      if (absl::Status st = CheckProxyProtocolVersion(value); !st.ok()) return st;
      if (out.kind() == "udp") return Invalid("proxy_protocol is for tcp, http and tls tunnels");
      out.set_proxy_protocol(std::string(value));
    } else if (http && key == "basic_auth") {
      // Not quoted back: the value holds a password.
      const std::size_t colon = value.find(':');
      if (colon == std::string_view::npos || colon == 0 || colon + 1 == value.size()) {
        return Invalid("basic_auth needs USER:PASSWORD");
      }
      out.mutable_http()->set_basic_auth_user(std::string(value.substr(0, colon)));
      out.mutable_http()->set_basic_auth_password(std::string(value.substr(colon + 1)));
    } else if (http && key == "x_forwarded") {
      if (value != "true" && value != "false") return Invalid("x_forwarded must be true or false");
      out.mutable_http()->set_x_forwarded(value == "true");
    } else {
      return Invalid(absl::StrCat(
          "unknown tunnel option ", "\"", std::string(key), "\"",
          http ? " (known: proxy_protocol=v1|v2, basic_auth=USER:PASSWORD, x_forwarded=false)"
               : " (known: proxy_protocol=v1|v2)"));
    }
  }
  return out;
}

absl::Status ValidateHookAddress(std::string_view address) {
  if (address.empty()) return Invalid("missing hook address");
  auto strip = [&address](std::string_view prefix) {
    if (address.substr(0, prefix.size()) != prefix) return false;
    address.remove_prefix(prefix.size());
    return true;
  };
  if (strip("unix-abstract:")) {
    if (address.empty()) return Invalid("missing name after unix-abstract:");
    return absl::OkStatus();
  }
  if (strip("unix:")) {
    if (address.substr(0, 2) == "//") address.remove_prefix(2);
    if (address.empty()) return Invalid("missing socket path after unix:");
    return absl::OkStatus();
  }
  if (strip("dns:")) {
    if (address.substr(0, 2) == "//") {
      address.remove_prefix(2);
      const std::size_t slash = address.find('/');
      if (slash == std::string_view::npos) return Invalid("expected dns:///HOST:PORT");
      address.remove_prefix(slash + 1);  // the optional DNS server authority
    }
    if (absl::Status st = CheckDialAddress(address); !st.ok()) {
      return Invalid(absl::StrCat("dns target: ", std::string(st.message())));
    }
    return absl::OkStatus();
  }
  if (strip("ipv4:") || strip("ipv6:")) {
    while (true) {
      const std::size_t comma = address.find(',');
      if (absl::Status st = CheckDialAddress(address.substr(0, comma)); !st.ok()) return st;
      if (comma == std::string_view::npos) break;
      address.remove_prefix(comma + 1);
    }
    return absl::OkStatus();
  }
  return CheckDialAddress(address);
}

absl::StatusOr<reitunnel::config::v1::HookConfig> ParseHookSpec(std::string_view s) {
  const std::size_t eq = s.find('=');
  if (eq == std::string_view::npos) return Invalid("missing '=' (expected NAME=ADDRESS)");
  const std::string_view name = s.substr(0, eq);
  if (!IsValidHookName(name)) return Invalid(absl::StrCat("invalid hook name (", kNameRule, ")"));
  const std::string_view address = s.substr(eq + 1);
  if (absl::Status st = ValidateHookAddress(address); !st.ok()) {
    return Invalid(absl::StrCat("hook address: ", std::string(st.message())));
  }
  reitunnel::config::v1::HookConfig out;
  out.set_name(std::string(name));
  out.set_address(std::string(address));
  return out;
}

bool IsValidTunnelName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

bool IsValidHookName(std::string_view name) { return IsValidTunnelName(name); }

bool IsValidLabelKey(std::string_view key) {
  if (key.empty() || key.size() > 128) return false;
  for (char c : key) {
    if (!IsNameChar(c) && c != '/') return false;
  }
  return true;
}

}  // namespace reitunnel::config
