#include "server/cluster/etcd/endpoint.h"

#include <arpa/inet.h>

#include <charconv>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace reitunnel::cluster::etcd {
namespace {

constexpr size_t kMaxUrlLength = 512;

bool IsIpv4(const std::string& host) {
  in_addr a;
  return inet_pton(AF_INET, host.c_str(), &a) == 1;
}

bool IsIpv6(const std::string& host) {
  in6_addr a;
  return inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

bool IsHostNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_';
}

absl::Status Bad(std::string_view url, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("etcd endpoint \"", std::string(url), "\": ", std::string(why)));
}

}  // namespace

absl::StatusOr<Endpoint> ParseEndpoint(std::string_view url) {
  if (url.size() > kMaxUrlLength) return Bad(url.substr(0, 64), "too long");
  Endpoint ep;
  ep.url = std::string(url);
  std::string_view rest = url;
  if (rest.substr(0, 7) == "http://") {
    rest.remove_prefix(7);
  } else if (rest.substr(0, 8) == "https://") {
    rest.remove_prefix(8);
    ep.tls = true;
  } else {
    return Bad(url, "want http://HOST:PORT or https://HOST:PORT");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return Bad(url, "no path, query or user info allowed");
  }
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return Bad(url, "unterminated [IPv6] address");
    ep.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Bad(url, "junk after [IPv6] address");
      port_text = after.substr(1);
      if (port_text.empty()) return Bad(url, "empty port");
    }
    if (!IsIpv6(ep.host)) return Bad(url, "not an IPv6 address inside []");
  } else {
    size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      rest = rest.substr(0, colon);
      if (port_text.empty()) return Bad(url, "empty port");
    }
    ep.host = std::string(rest);
    if (ep.host.empty()) return Bad(url, "empty host");
    for (char c : ep.host) {
      if (!IsHostNameChar(c)) return Bad(url, "bad character in host");
    }
  }
  ep.port = kDefaultEtcdPort;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return Bad(url, "port must be 1-65535");
    }
    ep.port = static_cast<uint16_t>(value);
  }
  const std::string port = std::to_string(ep.port);
  if (IsIpv6(ep.host)) {
    ep.grpc_target = absl::StrCat("ipv6:[", ep.host, "]:", port);
    ep.authority = absl::StrCat("[", ep.host, "]:", port);
  } else if (IsIpv4(ep.host)) {
    ep.grpc_target = absl::StrCat("ipv4:", ep.host, ":", port);
    ep.authority = absl::StrCat(ep.host, ":", port);
  } else {
    ep.grpc_target = absl::StrCat("dns:///", ep.host, ":", port);
    ep.authority = absl::StrCat(ep.host, ":", port);
  }
  return ep;
}

absl::StatusOr<std::vector<Endpoint>> ParseEndpoints(std::string_view urls) {
  if (urls.empty()) return absl::InvalidArgumentError("no etcd endpoint given");
  std::vector<Endpoint> out;
  size_t start = 0;
  while (start <= urls.size()) {
    size_t comma = urls.find(',', start);
    if (comma == std::string_view::npos) comma = urls.size();
    std::string_view item = urls.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) return absl::InvalidArgumentError("empty item in etcd endpoint list");
    if (out.size() == kMaxEndpoints) {
      return absl::InvalidArgumentError(
          absl::StrCat("more than ", kMaxEndpoints, " etcd endpoints"));
    }
    auto ep = ParseEndpoint(item);
    if (!ep.ok()) return ep.status();
    out.push_back(*std::move(ep));
  }
  return out;
}

}  // namespace reitunnel::cluster::etcd
