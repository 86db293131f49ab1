#include "common/transport/http1/head.h"

#include <http_parser.h>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/transport/http1/text.h"

namespace reitunnel::transport::http1 {
namespace {

// Collects the callbacks of one http_parser_execute() run. http-parser may
// deliver one element in several pieces, so pieces are appended until the
// next kind of element starts.
struct Collector {
  enum class Last { kNone, kField, kValue };
  std::string url;
  std::string status_text;
  std::vector<Header> headers;
  Last last = Last::kNone;
  bool too_many = false;
  bool headers_complete = false;
};

Collector* Of(http_parser* p) { return static_cast<Collector*>(p->data); }

int OnUrl(http_parser* p, const char* at, size_t n) {
  Of(p)->url.append(at, n);
  return 0;
}

int OnStatus(http_parser* p, const char* at, size_t n) {
  Of(p)->status_text.append(at, n);
  return 0;
}

int OnHeaderField(http_parser* p, const char* at, size_t n) {
  Collector* c = Of(p);
  if (c->last != Collector::Last::kField) {
    if (c->headers.size() >= kMaxHeaderFields) {
      c->too_many = true;
      return 1;
    }
    c->headers.emplace_back();
  }
  c->headers.back().name.append(at, n);
  c->last = Collector::Last::kField;
  return 0;
}

int OnHeaderValue(http_parser* p, const char* at, size_t n) {
  Collector* c = Of(p);
  if (c->headers.empty()) return 1;
  c->headers.back().value.append(at, n);
  c->last = Collector::Last::kValue;
  return 0;
}

int OnHeadersComplete(http_parser* p) {
  Of(p)->headers_complete = true;
  // 1: no body follows, whatever the head says; we only ever parse heads.
  return 1;
}

// Runs http-parser over exactly one head. Returns the parser state for the
// start-line fields.
absl::Status Run(std::string_view head, http_parser_type type, http_parser* parser, Collector* c) {
  if (!FindHeadEnd(head) || *FindHeadEnd(head) != head.size()) {
    return absl::InvalidArgumentError("incomplete HTTP head");
  }
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_url = OnUrl;
  settings.on_status = OnStatus;
  settings.on_header_field = OnHeaderField;
  settings.on_header_value = OnHeaderValue;
  settings.on_headers_complete = OnHeadersComplete;
  http_parser_init(parser, type);
  parser->data = c;
  http_parser_execute(parser, &settings, head.data(), head.size());
  if (c->too_many) {
    return absl::InvalidArgumentError(
        absl::StrCat("more than ", kMaxHeaderFields, " header fields"));
  }
  const auto err = HTTP_PARSER_ERRNO(parser);
  if (err != HPE_OK && err != HPE_PAUSED) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed HTTP head (", http_errno_description(err), ")"));
  }
  if (!c->headers_complete) return absl::InvalidArgumentError("malformed HTTP head");
  for (Header& h : c->headers) {
    if (!IsToken(h.name)) return absl::InvalidArgumentError("malformed header field name");
    absl::AsciiStrToLower(&h.name);
    h.value = std::string(TrimBlanks(h.value));
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<size_t> FindHeadEnd(std::string_view buf) {
  for (size_t i = buf.find('\n'); i != std::string_view::npos; i = buf.find('\n', i + 1)) {
    if (i + 1 < buf.size() && buf[i + 1] == '\n') return i + 2;
    if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
  }
  return std::nullopt;
}

absl::StatusOr<RequestHead> ParseRequestHead(std::string_view head) {
  http_parser parser;
  Collector c;
  if (absl::Status st = Run(head, HTTP_REQUEST, &parser, &c); !st.ok()) return st;
  RequestHead out;
  out.method = http_method_str(static_cast<http_method>(parser.method));
  out.target = std::move(c.url);
  out.version_major = parser.http_major;
  out.version_minor = parser.http_minor;
  out.headers = std::move(c.headers);
  return out;
}

absl::StatusOr<ResponseHead> ParseResponseHead(std::string_view head) {
  http_parser parser;
  Collector c;
  if (absl::Status st = Run(head, HTTP_RESPONSE, &parser, &c); !st.ok()) return st;
  ResponseHead out;
  out.version_major = parser.http_major;
  out.version_minor = parser.http_minor;
  out.status = static_cast<int>(parser.status_code);
  const std::string_view first_line = head.substr(0, head.find_first_of("\r\n"));
  out.status_line = SanitizeForLog(first_line);
  out.headers = std::move(c.headers);
  return out;
}

std::vector<std::string_view> HeaderValues(const std::vector<Header>& headers,
                                           std::string_view name) {
  std::vector<std::string_view> out;
  for (const Header& h : headers) {
    if (h.name == name) out.push_back(h.value);
  }
  return out;
}

absl::StatusOr<std::optional<std::string_view>> SingleHeader(const std::vector<Header>& headers,
                                                             std::string_view name) {
  std::vector<std::string_view> v = HeaderValues(headers, name);
  if (v.empty()) return std::optional<std::string_view>();
  if (v.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("repeated header field ", std::string(name)));
  }
  return std::optional<std::string_view>(v.front());
}

std::vector<std::string_view> SplitList(std::string_view value) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view part = TrimBlanks(value.substr(start, comma - start));
    if (!part.empty()) out.push_back(part);
    start = comma + 1;
  }
  return out;
}

bool HeaderHasToken(const std::vector<Header>& headers, std::string_view name,
                    std::string_view token) {
  for (std::string_view v : HeaderValues(headers, name)) {
    for (std::string_view t : SplitList(v)) {
      if (EqualsIgnoreCase(t, token)) return true;
    }
  }
  return false;
}

}  // namespace reitunnel::transport::http1
