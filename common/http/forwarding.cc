#include "common/http/forwarding.h"

#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/http/ascii.h"

namespace reitunnel::http {
namespace {

std::string SafeIp(std::string_view ip) {
  if (ip.empty() || ip.size() > 45) return "unknown";
  for (char c : ip) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
              c == '.' || c == ':';
    if (!ok) return "unknown";
  }
  return std::string(ip);
}

// RFC 7239 section 6: an IPv6 node is bracketed and, since ':' is not a
// token character, quoted.
std::string ForwardedNode(const std::string& ip) {
  if (ip.find(':') != std::string::npos) return absl::StrCat("\"[", ip, "]\"");
  return ip;
}

// The index of the last field called `name`, or -1.
int LastIndexOf(const RequestHead& head, std::string_view name) {
  for (int i = static_cast<int>(head.headers.size()) - 1; i >= 0; --i) {
    if (EqualsIgnoreCase(head.headers[i].name, name)) return i;
  }
  return -1;
}

// A scheme name (RFC 3986 section 3.1), or "" so a bad option is dropped
// rather than written into a header.
std::string SafeProto(std::string_view proto) {
  if (proto.size() > 16) return "";
  for (char c : proto) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '-' || c == '.';
    if (!ok) return "";
  }
  return std::string(proto);
}

}  // namespace

std::string RewriteHead(const RequestHead& head, const ForwardingOptions& options) {
  const std::string ip = SafeIp(options.visitor_ip);
  const std::string_view raw = head.raw;
  const std::string proto = SafeProto(options.x_forwarded_proto);
  const bool set_proto = !proto.empty();

  std::string forwarded_element;
  if (options.forwarded) {
    forwarded_element = absl::StrCat("for=", ForwardedNode(ip));
    // authority passed ParseHostAndPort: no quotes or backslashes inside.
    if (!head.authority.empty())
      absl::StrAppend(&forwarded_element, ";host=\"", head.authority, "\"");
    if (set_proto) absl::StrAppend(&forwarded_element, ";proto=", proto);
  }

  const int last_xff = options.x_forwarded_for ? LastIndexOf(head, "X-Forwarded-For") : -1;
  const int last_fwd = options.forwarded ? LastIndexOf(head, "Forwarded") : -1;

  std::string out;
  out.reserve(raw.size() + 160);
  size_t cursor = 0;
  // Appends `extra` to field i's value, keeping everything around it.
  auto append_to_value = [&](const HeaderField& f, std::string_view extra) {
    out.append(raw.substr(f.line_begin, f.value_end - f.line_begin));
    out.append(f.value_begin == f.value_end ? " " : ", ");
    out.append(extra);
    out.append(raw.substr(f.value_end, f.line_end - f.value_end));
  };
  for (int i = 0; i < static_cast<int>(head.headers.size()); ++i) {
    const HeaderField& f = head.headers[i];
    out.append(raw.substr(cursor, f.line_begin - cursor));
    cursor = f.line_end;
    bool replaced = (set_proto && EqualsIgnoreCase(f.name, "X-Forwarded-Proto")) ||
                    (options.x_forwarded_host && EqualsIgnoreCase(f.name, "X-Forwarded-Host"));
    if (replaced) continue;
    if (i == last_xff) {
      append_to_value(f, ip);
    } else if (i == last_fwd) {
      append_to_value(f, forwarded_element);
    } else {
      out.append(raw.substr(f.line_begin, f.line_end - f.line_begin));
    }
  }
  out.append(raw.substr(cursor, head.fields_end - cursor));
  if (options.x_forwarded_for && last_xff < 0)
    absl::StrAppend(&out, "X-Forwarded-For: ", ip, "\r\n");
  if (set_proto) absl::StrAppend(&out, "X-Forwarded-Proto: ", proto, "\r\n");
  if (options.x_forwarded_host && !head.authority.empty()) {
    absl::StrAppend(&out, "X-Forwarded-Host: ", head.authority, "\r\n");
  }
  if (options.forwarded && last_fwd < 0)
    absl::StrAppend(&out, "Forwarded: ", forwarded_element, "\r\n");
  out.append(raw.substr(head.fields_end));
  return out;
}

}  // namespace reitunnel::http
