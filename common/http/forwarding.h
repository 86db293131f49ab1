#pragma once

// The head a routed HTTP tunnel forwards to the agent: the visitor's head
// with X-Forwarded-* (and optionally RFC 7239 Forwarded) fields added or
// replaced. Every other byte stays as the visitor sent it, so the origin sees
// the request it would have seen directly, plus provenance.

#include <string>

#include "common/http/request_head.h"

namespace reitunnel::http {

struct ForwardingOptions {
  // The visitor's IP address in text form ("203.0.113.7", "2001:db8::1").
  // Anything but hex digits, '.' and ':' is replaced by "unknown".
  std::string visitor_ip;
  // X-Forwarded-For: the visitor's IP appended to the last existing field
  // ("<existing>, <ip>"), or a new field. Appending (not replacing) is what
  // proxies chain on; the origin trusts only the entries its own front ends
  // added.
  bool x_forwarded_for = true;
  // X-Forwarded-Proto: "http" or "https"; empty leaves the field alone.
  // Any field the visitor sent is removed first: only the edge knows.
  std::string x_forwarded_proto;
  // X-Forwarded-Host: the authority the visitor addressed; replaces any sent.
  bool x_forwarded_host = false;
  // Forwarded (RFC 7239): "for=<ip>;host=<authority>;proto=<proto>" appended
  // as a new element to the last existing field, or a new field.
  bool forwarded = false;
};

// The bytes to forward in place of head.raw.
std::string RewriteHead(const RequestHead& head, const ForwardingOptions& options);

}  // namespace reitunnel::http
