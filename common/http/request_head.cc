#include "common/http/request_head.h"

#include <http_parser.h>

#include <algorithm>
#include <utility>

#include "common/http/ascii.h"
#include "common/http/host_header.h"

namespace reitunnel::http {
namespace {

bool IsOws(char c) { return c == ' ' || c == '\t'; }

// RFC 9110 section 5.6.2.
bool IsTchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), IsTchar); }

// field-value bytes (RFC 9110 section 5.5): VCHAR, SP, HTAB, obs-text.
bool IsFieldValue(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
  });
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Splits "method SP target SP HTTP/d.d" (RFC 9112 section 3) strictly.
// Debian builds libhttp-parser with HTTP_PARSER_STRICT=0, which accepts
// spaces in field names, any "HTTX/1.1" version and control bytes in values;
// a front end must not pass on what the origin might read differently.
bool SplitRequestLine(std::string_view line, std::string_view* method, std::string_view* target,
                      int* major, int* minor) {
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return false;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return false;
  *method = line.substr(0, sp1);
  *target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(*method) || target->empty()) return false;
  for (char ch : *target) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f) return false;
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !IsDigit(version[5]) ||
      version[6] != '.' || !IsDigit(version[7])) {
    return false;
  }
  *major = version[5] - '0';
  *minor = version[7] - '0';
  return true;
}

// The status a parser error deserves. Everything libhttp-parser rejects is a
// malformed request except an oversized head, which our own bounds normally
// catch first.
int StatusForParserError(http_errno err) { return err == HPE_HEADER_OVERFLOW ? 431 : 400; }

}  // namespace

const HeaderField* RequestHead::Find(std::string_view name) const {
  for (const HeaderField& f : headers) {
    if (EqualsIgnoreCase(f.name, name)) return &f;
  }
  return nullptr;
}

size_t RequestHead::Count(std::string_view name) const {
  return static_cast<size_t>(
      std::count_if(headers.begin(), headers.end(),
                    [&](const HeaderField& f) { return EqualsIgnoreCase(f.name, name); }));
}

RequestHeadReader::RequestHeadReader(HeadLimits limits)
    : limits_(limits), parser_(std::make_unique<http_parser>()) {
  http_parser_init(parser_.get(), HTTP_REQUEST);
  parser_->data = this;
}

RequestHeadReader::~RequestHeadReader() = default;

int RequestHeadReader::OnHeadersComplete(http_parser* p) {
  auto* self = static_cast<RequestHeadReader*>(p->data);
  self->headers_complete_ = true;
  // 2 = "no body, and the rest is another protocol": libhttp-parser then
  // stops right after the head, which is exactly what a router wants.
  return 2;
}

RequestHeadReader::Result RequestHeadReader::Fail(int status, std::string_view reason) {
  state_ = State::kError;
  error_status_ = status;
  error_reason_ = reason;
  return {state_, 0};
}

RequestHeadReader::Result RequestHeadReader::Feed(std::string_view bytes) {
  if (state_ != State::kNeedMore) return {state_, 0};
  if (bytes.empty()) return {state_, 0};  // a zero-length execute means EOF to the parser

  size_t room = limits_.max_head_bytes - buf_.size();
  size_t take = std::min(bytes.size(), room);
  size_t old = buf_.size();
  buf_.append(bytes.data(), take);

  static const http_parser_settings kSettings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_headers_complete = &RequestHeadReader::OnHeadersComplete;
    return s;
  }();
  size_t parsed =
      take == 0 ? 0 : http_parser_execute(parser_.get(), &kSettings, buf_.data() + old, take);
  http_errno err = HTTP_PARSER_ERRNO(parser_.get());

  if (!CheckLines(old, old + parsed)) return {state_, 0};
  if (err != HPE_OK) return Fail(StatusForParserError(err), http_errno_description(err));

  if (headers_complete_) {
    buf_.resize(old + parsed);
    if (!Finish()) return {state_, 0};
    state_ = State::kDone;
    return {state_, parsed};
  }
  if (buf_.size() >= limits_.max_head_bytes) {
    return seen_request_line_ ? Fail(431, "request head too large")
                              : Fail(414, "request line too long");
  }
  return {state_, take};
}

bool RequestHeadReader::CheckLines(size_t from, size_t to) {
  for (size_t i = from; i <= to; ++i) {
    bool complete = i < to && buf_[i] == '\n';
    if (i < to && !complete) continue;
    size_t len = (complete ? i + 1 : i) - line_start_;
    size_t content = len;
    if (complete) {
      content -= 1;
      if (content > 0 && buf_[line_start_ + content - 1] == '\r') content -= 1;
    }
    if (!seen_request_line_) {
      if (len > limits_.max_request_line_bytes) {
        Fail(414, "request line too long");
        return false;
      }
      if (complete && content > 0) seen_request_line_ = true;
    } else {
      if (len > limits_.max_header_line_bytes) {
        Fail(431, "header field line too long");
        return false;
      }
      if (complete && content > 0 && ++field_lines_ > limits_.max_header_count) {
        Fail(431, "too many header fields");
        return false;
      }
    }
    if (complete) line_start_ = i + 1;
  }
  return true;
}

bool RequestHeadReader::Finish() {
  const std::string& raw = buf_;
  head_ = RequestHead();

  // Split the head into lines. libhttp-parser has found the end of the head
  // and validated its framing; the checks here are the strict ones it skips.
  // It ignores CR/LF before the request line, so do we.
  size_t pos = 0;
  while (pos < raw.size() && (raw[pos] == '\r' || raw[pos] == '\n')) ++pos;
  size_t eol = raw.find('\n', pos);
  if (eol == std::string::npos) {
    Fail(400, "malformed request line");
    return false;
  }
  std::string_view request_line(raw.data() + pos, eol - pos);
  if (!request_line.empty() && request_line.back() == '\r') request_line.remove_suffix(1);
  std::string_view method;
  std::string_view target;
  if (!SplitRequestLine(request_line, &method, &target, &head_.version_major,
                        &head_.version_minor)) {
    Fail(400, "malformed request line");
    return false;
  }
  if (head_.version_major != 1) {
    Fail(505, "HTTP version not supported");
    return false;
  }
  if (parser_->method == HTTP_CONNECT) {
    // A routed tunnel fronts an origin server, not a forward proxy.
    Fail(405, "CONNECT is not supported");
    return false;
  }
  head_.method = std::string(method);
  head_.target = std::string(target);
  pos = eol + 1;
  while (true) {
    eol = raw.find('\n', pos);
    if (eol == std::string::npos) {
      Fail(400, "malformed header section");
      return false;
    }
    size_t content_end = eol;
    if (content_end > pos && raw[content_end - 1] == '\r') --content_end;
    if (content_end == pos) {
      head_.fields_end = pos;
      break;
    }
    if (IsOws(raw[pos])) {
      // RFC 9112 section 5.2: obs-fold; rejecting is the simple safe choice.
      Fail(400, "obsolete line folding");
      return false;
    }
    size_t colon = raw.find(':', pos);
    if (colon == std::string::npos || colon >= content_end || colon == pos) {
      Fail(400, "malformed header field");
      return false;
    }
    size_t vb = colon + 1;
    while (vb < content_end && IsOws(raw[vb])) ++vb;
    size_t ve = content_end;
    while (ve > vb && IsOws(raw[ve - 1])) --ve;
    std::string_view name(raw.data() + pos, colon - pos);
    std::string_view value(raw.data() + vb, ve - vb);
    if (!IsToken(name) || !IsFieldValue(value)) {
      Fail(400, "malformed header field");
      return false;
    }
    HeaderField f;
    f.name = raw.substr(pos, colon - pos);
    f.value = raw.substr(vb, ve - vb);
    f.line_begin = pos;
    f.line_end = eol + 1;
    f.value_begin = vb;
    f.value_end = ve;
    head_.headers.push_back(std::move(f));
    pos = eol + 1;
  }

  // Host (RFC 9112 section 3.2): more than one Host line is a 400, as nginx
  // does; two front ends disagreeing on which one counts is how requests get
  // routed past checks.
  size_t host_count = head_.Count("Host");
  if (host_count > 1) {
    Fail(400, "multiple Host headers");
    return false;
  }
  const HeaderField* host_field = head_.Find("Host");
  bool origin_or_asterisk = head_.target.front() == '/' || head_.target == "*";
  if (!origin_or_asterisk) {
    http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(head_.target.data(), head_.target.size(), 0, &u) != 0 ||
        !(u.field_set & (1 << UF_SCHEMA)) || !(u.field_set & (1 << UF_HOST))) {
      Fail(400, "malformed request target");
      return false;
    }
    auto field = [&](int f) {
      return std::string_view(head_.target).substr(u.field_data[f].off, u.field_data[f].len);
    };
    std::string_view scheme = field(UF_SCHEMA);
    if (!EqualsIgnoreCase(scheme, "http") && !EqualsIgnoreCase(scheme, "https")) {
      Fail(400, "unsupported URI scheme");
      return false;
    }
    std::string_view host = field(UF_HOST);
    std::string authority = host.find(':') != std::string_view::npos ? "[" + std::string(host) + "]"
                                                                     : std::string(host);
    if (u.field_set & (1 << UF_PORT)) {
      authority.push_back(':');
      authority.append(field(UF_PORT));
    }
    std::optional<std::string> parsed = ParseHostAndPort(authority);
    if (!parsed || parsed->empty()) {
      Fail(400, "invalid host in request target");
      return false;
    }
    head_.host = std::move(*parsed);
    head_.authority = std::move(authority);
  } else if (host_field != nullptr) {
    std::optional<std::string> parsed = ParseHostAndPort(host_field->value);
    if (!parsed) {
      Fail(400, "invalid Host header");
      return false;
    }
    head_.host = std::move(*parsed);
    head_.authority = host_field->value;
  } else if (head_.version_minor >= 1) {
    Fail(400, "missing Host header");
    return false;
  }

  // Body framing (RFC 9112 section 6). libhttp-parser already rejects
  // Content-Length together with chunked and conflicting lengths; the rest is
  // what its "no body" early exit skips.
  if (parser_->flags & F_CONTENTLENGTH) head_.content_length = parser_->content_length;
  bool any_te = false;
  int chunked_count = 0;
  bool last_is_chunked = false;
  for (const HeaderField& f : head_.headers) {
    if (!EqualsIgnoreCase(f.name, "Transfer-Encoding")) continue;
    any_te = true;
    std::string_view rest = f.value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view coding = TrimOws(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (coding.empty()) continue;
      last_is_chunked = EqualsIgnoreCase(coding, "chunked");
      if (last_is_chunked) ++chunked_count;
    }
  }
  if (any_te) {
    if (head_.content_length.has_value() || head_.Find("Content-Length") != nullptr) {
      Fail(400, "both Content-Length and Transfer-Encoding");
      return false;
    }
    if (head_.version_minor == 0) {
      Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
      return false;
    }
    if (!last_is_chunked || chunked_count != 1) {
      Fail(400, "Transfer-Encoding does not end in a single chunked");
      return false;
    }
    head_.chunked = true;
  }

  head_.raw = std::move(buf_);
  buf_.clear();
  return true;
}

}  // namespace reitunnel::http
