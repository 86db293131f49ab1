#include "common/transport/http_proxy/proxy_select.h"

#include <arpa/inet.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/transport/http1/text.h"

namespace reitunnel::transport {
namespace {

constexpr const char* kVariables[] = {
    "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ws_proxy",      "WS_PROXY",
    "wss_proxy",  "WSS_PROXY",  "all_proxy",   "ALL_PROXY",   "no_proxy",      "NO_PROXY",
    "REQUEST_METHOD"};

// curl_getenv(): an empty variable is no variable.
std::optional<std::string_view> Get(const ProxyEnv& env, std::string_view name) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return std::string_view(it->second);
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

enum class NameType { kHost, kIpv4, kIpv6 };

bool MatchHost(std::string_view token, std::string_view name) {
  if (!token.empty() && token.back() == '.') token.remove_suffix(1);
  if (!token.empty() && token.front() == '.') token.remove_prefix(1);
  if (token.size() == name.size()) return http1::EqualsIgnoreCase(token, name);
  if (token.size() < name.size()) {
    return name[name.size() - token.size() - 1] == '.' &&
           http1::EqualsIgnoreCase(token, name.substr(name.size() - token.size()));
  }
  return false;
}

bool Cidr4Match(const std::string& host, const std::string& network, unsigned bits) {
  if (bits > 32) return false;
  in_addr a, n;
  if (inet_pton(AF_INET, host.c_str(), &a) != 1) return false;
  if (inet_pton(AF_INET, network.c_str(), &n) != 1) return false;
  if (bits != 0 && bits != 32) {
    const uint32_t mask = 0xffffffffu << (32 - bits);
    return ((ntohl(a.s_addr) ^ ntohl(n.s_addr)) & mask) == 0;
  }
  // curl treats /0 like /32: an exact match.
  return a.s_addr == n.s_addr;
}

bool Cidr6Match(const std::string& host, const std::string& network, unsigned bits) {
  if (bits == 0) bits = 128;  // as curl
  const unsigned bytes = bits / 8;
  const unsigned rest = bits % 8;
  if (bytes > 16 || (bytes == 16 && rest)) return false;
  unsigned char a[16], n[16];
  if (inet_pton(AF_INET6, host.c_str(), a) != 1) return false;
  if (inet_pton(AF_INET6, network.c_str(), n) != 1) return false;
  if (bytes && std::memcmp(a, n, bytes) != 0) return false;
  if (rest && ((a[bytes] ^ n[bytes]) & (0xff << (8 - rest)) & 0xff)) return false;
  return true;
}

bool MatchIp(NameType type, std::string_view token, const std::string& host) {
  if (token.size() >= 128) return false;
  std::string network(token);
  unsigned bits = 0;
  const size_t slash = network.find('/');
  if (slash != std::string::npos) {
    const std::string_view digits = std::string_view(network).substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return false;
    unsigned v = 0;
    for (char c : digits) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v > 128) return false;
    bits = v;
    network.resize(slash);
  }
  return type == NameType::kIpv6 ? Cidr6Match(host, network, bits)
                                 : Cidr4Match(host, network, bits);
}

absl::StatusOr<ProxyChoice> Use(std::string_view source, std::string_view value) {
  ProxyChoice c;
  c.source = std::string(source);
  if (value.empty()) return c;
  absl::StatusOr<url::ProxyUrl> p = url::ParseProxyUrl(value);
  if (!p.ok()) {
    return absl::Status(p.status().code(),
                        absl::StrCat(std::string(source), ": ", p.status().message()));
  }
  c.proxy = std::move(*p);
  return c;
}

}  // namespace

ProxyTargetScheme ProxySchemeFor(const url::ServerAddress& server) {
  switch (server.scheme) {
    case url::LinkScheme::kWs:
      return ProxyTargetScheme::kWs;
    case url::LinkScheme::kWss:
      return ProxyTargetScheme::kWss;
    case url::LinkScheme::kTcp:
      break;
  }
  return ProxyTargetScheme::kHttps;
}

ProxyEnv ProxyEnvFromProcess() {
  ProxyEnv env;
  for (const char* name : kVariables) {
    if (const char* v = std::getenv(name)) env.emplace(name, v);
  }
  return env;
}

bool NoProxyMatches(std::string_view host, std::string_view no_proxy) {
  if (host.empty() || no_proxy.empty()) return false;
  if (no_proxy == "*") return true;
  const std::string host_z(host);
  NameType type = NameType::kHost;
  unsigned char scratch[16];
  if (inet_pton(AF_INET, host_z.c_str(), scratch) == 1) {
    type = NameType::kIpv4;
  } else if (inet_pton(AF_INET6, host_z.c_str(), scratch) == 1) {
    type = NameType::kIpv6;
  } else if (host.back() == '.') {
    host.remove_suffix(1);
  }
  size_t i = 0;
  while (i < no_proxy.size()) {
    while (i < no_proxy.size() && IsBlank(no_proxy[i])) ++i;
    const size_t start = i;
    while (i < no_proxy.size() && !IsBlank(no_proxy[i]) && no_proxy[i] != ',') ++i;
    const std::string_view token = no_proxy.substr(start, i - start);
    if (!token.empty()) {
      const bool match =
          type == NameType::kHost ? MatchHost(token, host) : MatchIp(type, token, host_z);
      if (match) return true;
    }
    while (i < no_proxy.size() && IsBlank(no_proxy[i])) ++i;
    if (i >= no_proxy.size() || no_proxy[i] != ',') break;
    while (i < no_proxy.size() && no_proxy[i] == ',') ++i;
  }
  return false;
}

absl::StatusOr<ProxyChoice> SelectProxy(ProxyTargetScheme scheme, std::string_view target_host,
                                        const std::optional<std::string>& proxy_flag,
                                        const ProxyEnv& env) {
  const char* no_proxy_name = "no_proxy";
  std::optional<std::string_view> no_proxy = Get(env, "no_proxy");
  if (!no_proxy) {
    no_proxy_name = "NO_PROXY";
    no_proxy = Get(env, "NO_PROXY");
  }
  if (no_proxy && NoProxyMatches(target_host, *no_proxy)) {
    ProxyChoice direct;
    direct.source = no_proxy_name;
    return direct;
  }
  if (proxy_flag) return Use("--proxy", *proxy_flag);

  // Under CGI, HTTP_PROXY may come from a client's request header.
  const bool cgi = env.find("REQUEST_METHOD") != env.end();
  std::vector<const char*> order;
  switch (scheme) {
    case ProxyTargetScheme::kHttp:
      order = {"http_proxy"};
      if (!cgi) order.push_back("HTTP_PROXY");
      break;
    case ProxyTargetScheme::kHttps:
      order = {"https_proxy", "HTTPS_PROXY"};
      break;
    case ProxyTargetScheme::kWs:
      order = {"ws_proxy", "WS_PROXY", "http_proxy"};
      if (!cgi) order.push_back("HTTP_PROXY");
      break;
    case ProxyTargetScheme::kWss:
      order = {"wss_proxy", "WSS_PROXY", "https_proxy", "HTTPS_PROXY"};
      break;
  }
  order.push_back("all_proxy");
  order.push_back("ALL_PROXY");
  for (const char* name : order) {
    if (std::optional<std::string_view> v = Get(env, name)) return Use(name, *v);
  }
  return ProxyChoice{};
}

}  // namespace reitunnel::transport
