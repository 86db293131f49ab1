#pragma once

// Reads the head of an HTTP/1.x request (request line and header fields) as
// its bytes arrive, for a front end that routes a connection by Host and then
// relays it. Parsing is libhttp-parser's (Debian libhttp-parser-dev); this
// layer adds size bounds, Host extraction, and the request-smuggling checks a
// front end owes the origin behind it.
//
// Keep-alive rule: a routed connection belongs to the tunnel chosen by its
// FIRST request's Host. After that head the server forwards every byte
// unchanged (body, later requests, upgraded protocols), so a client that sends
// a second request for another host on the same keep-alive connection still
// reaches the first tunnel. Head rewriting (forwarding.h) and basic auth
// (basic_auth.h) likewise apply to the first request only: a local service
// must not trust X-Forwarded-* on later requests of one connection.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct http_parser;

namespace reitunnel::http {

struct HeaderField {
  std::string name;   // as sent, original case
  std::string value;  // without leading/trailing whitespace
  // Offsets into RequestHead::raw: the whole field line including its line
  // terminator, and the value inside it. Used to rewrite heads byte-exactly.
  size_t line_begin = 0;
  size_t line_end = 0;
  size_t value_begin = 0;
  size_t value_end = 0;
};

struct RequestHead {
  // The exact bytes of the head, through the empty line that ends it
  // (including any empty lines the client sent before the request line).
  std::string raw;
  std::string method;  // e.g. "GET"
  std::string target;  // request-target as sent
  int version_major = 1;
  int version_minor = 1;
  std::vector<HeaderField> headers;  // in order

  // The routing host: lowercased, port and IPv6 brackets removed, one
  // trailing dot removed. From the request-target's authority when it is in
  // absolute form (RFC 9112 section 3.2.2), else from the Host header. Empty
  // for an HTTP/1.0 request without Host (or an empty Host header).
  std::string host;
  // The host[:port] the client addressed, as sent (already checked by
  // ParseHostAndPort, so safe to copy into a header): the absolute-form
  // target's authority, else the Host value. Used for X-Forwarded-Host.
  std::string authority;
  // Offset in raw of the empty line that ends the head; new header fields go
  // here.
  size_t fields_end = 0;

  std::optional<uint64_t> content_length;  // set when Content-Length was sent
  bool chunked = false;                    // Transfer-Encoding ends in chunked

  bool has_body() const { return chunked || content_length.value_or(0) > 0; }
  // First field named `name` (ASCII case-insensitive), or nullptr.
  const HeaderField* Find(std::string_view name) const;
  size_t Count(std::string_view name) const;
};

struct HeadLimits {
  size_t max_head_bytes = 16 * 1024;         // whole head; over it: 431 (414 in the request line)
  size_t max_request_line_bytes = 8 * 1024;  // over it: 414
  size_t max_header_line_bytes = 8 * 1024;   // one field line; over it: 431
  size_t max_header_count = 100;             // over it: 431
};

// Feed it the connection's bytes in arrival order until it leaves kNeedMore.
// It buffers at most max_head_bytes. Not thread-safe; one per connection.
class RequestHeadReader {
 public:
  enum class State { kNeedMore, kDone, kError };
  struct Result {
    State state;
    // How many bytes of this Feed's input belong to the head. On kDone the
    // caller forwards the rewritten head and then input[consumed..] followed
    // by the rest of the connection, unchanged.
    size_t consumed;
  };

  explicit RequestHeadReader(HeadLimits limits = {});
  ~RequestHeadReader();
  RequestHeadReader(const RequestHeadReader&) = delete;
  RequestHeadReader& operator=(const RequestHeadReader&) = delete;

  // After kDone or kError further calls consume nothing and repeat the state.
  Result Feed(std::string_view bytes);

  State state() const { return state_; }
  // Valid in kDone.
  const RequestHead& head() const { return head_; }
  RequestHead TakeHead() { return std::move(head_); }
  // Valid in kError: the status to answer with (400, 405, 414, 431 or 505;
  // see responses.h) and a fixed, log-safe reason that never quotes input.
  int error_status() const { return error_status_; }
  std::string_view error_reason() const { return error_reason_; }

 private:
  static int OnHeadersComplete(http_parser* p);

  Result Fail(int status, std::string_view reason);
  // Applies the line-length and field-count bounds to buf_[from, to).
  bool CheckLines(size_t from, size_t to);
  // Splits the complete head into fields and derives Host and body framing.
  bool Finish();

  HeadLimits limits_;
  std::unique_ptr<http_parser> parser_;
  std::string buf_;
  State state_ = State::kNeedMore;
  bool headers_complete_ = false;
  int error_status_ = 0;
  std::string_view error_reason_;

  // Line bookkeeping for the bounds.
  size_t line_start_ = 0;
  bool seen_request_line_ = false;
  size_t field_lines_ = 0;

  RequestHead head_;
};

}  // namespace reitunnel::http
