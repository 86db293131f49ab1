#pragma once

// HTTP/1.1 message heads (start line + header fields, no body) as used by
// the WebSocket upgrade and HTTP CONNECT: pure functions over bytes, parsed
// with http-parser. A head is bounded by the caller (see head_reader.h).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace reitunnel::transport::http1 {

struct Header {
  std::string name;   // lowercased
  std::string value;  // surrounding whitespace trimmed
};

struct RequestHead {
  std::string method;  // "GET"
  std::string target;  // request-target as sent: "/path?q" or absolute form
  int version_major = 0;
  int version_minor = 0;
  std::vector<Header> headers;
};

struct ResponseHead {
  int version_major = 0;
  int version_minor = 0;
  int status = 0;
  // "HTTP/1.1 404 Not Found", made printable and bounded (SanitizeForLog):
  // fit for error messages. Headers are never part of it.
  std::string status_line;
  std::vector<Header> headers;
};

// Headers past this count make the head invalid (bounds memory per head
// independently of its byte size).
inline constexpr size_t kMaxHeaderFields = 100;

// Position just past the blank line ending a head in `buf` ("\r\n\r\n" or a
// bare "\n\n"), or nullopt if the head is not complete yet.
std::optional<size_t> FindHeadEnd(std::string_view buf);

// `head` must be one complete head, blank line included, nothing after it.
// Errors name the problem but never quote header values.
absl::StatusOr<RequestHead> ParseRequestHead(std::string_view head);
absl::StatusOr<ResponseHead> ParseResponseHead(std::string_view head);

// Values of every field named `name` (lowercase), in order.
std::vector<std::string_view> HeaderValues(const std::vector<Header>& headers,
                                           std::string_view name);
// The only value of `name`; nullopt if absent; error text if repeated.
absl::StatusOr<std::optional<std::string_view>> SingleHeader(const std::vector<Header>& headers,
                                                             std::string_view name);

// True if any comma-separated element of any `name` field equals `token`,
// case-insensitively ("Connection: keep-alive, Upgrade").
bool HeaderHasToken(const std::vector<Header>& headers, std::string_view name,
                    std::string_view token);

// Splits a comma-separated list, trimming blanks, dropping empty elements.
std::vector<std::string_view> SplitList(std::string_view value);

}  // namespace reitunnel::transport::http1
