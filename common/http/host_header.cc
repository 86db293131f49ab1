#include "common/http/host_header.h"

#include <arpa/inet.h>

#include <cstdint>

namespace reitunnel::http {
namespace {

bool IsRegNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

bool ValidPort(std::string_view port) {
  if (port.size() > 5) return false;
  uint32_t value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  return value <= 65535;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::optional<std::string> ParseHostAndPort(std::string_view authority) {
  if (authority.empty()) return std::string();
  std::string_view host;
  std::string_view rest;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    rest = authority.substr(close + 1);
    // inet_pton wants a NUL-terminated string; the longest textual IPv6
    // address (with an embedded IPv4 tail) is 45 characters.
    char text[64];
    if (host.empty() || host.size() >= sizeof(text)) return std::nullopt;
    host.copy(text, host.size());
    text[host.size()] = '\0';
    unsigned char addr[16];
    if (inet_pton(AF_INET6, text, addr) != 1) return std::nullopt;
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
    for (char c : host) {
      if (!IsRegNameChar(c)) return std::nullopt;
    }
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    if (host.empty()) return std::nullopt;
  }
  if (!rest.empty() && !ValidPort(rest.substr(1))) return std::nullopt;
  return Lower(host);
}

}  // namespace reitunnel::http
