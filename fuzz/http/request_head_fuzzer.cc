// The HTTP request-head reader on arbitrary bytes, fed in chunkings chosen
// by the input's first byte: whatever the chunking, the outcome must equal a
// single-piece feed, respect the bounds, and a completed head must survive
// rewriting (the rewritten head parses to the same request).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/http/basic_auth.h"
#include "common/http/forwarding.h"
#include "common/http/request_head.h"

namespace {

using reitunnel::http::HeadLimits;
using reitunnel::http::RequestHead;
using reitunnel::http::RequestHeadReader;
using State = RequestHeadReader::State;

// Reports which invariant broke, so a finding explains itself.
#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

struct Outcome {
  State state;
  size_t consumed;
  int status;
};

Outcome FeedAll(RequestHeadReader& reader, std::string_view input, uint32_t seed) {
  // Chunk sizes from a small LCG: 1..64 bytes, with seed 0 meaning one piece.
  size_t consumed = 0;
  size_t pos = 0;
  while (pos < input.size()) {
    size_t n = input.size() - pos;
    if (seed != 0) {
      seed = seed * 1103515245u + 12345u;
      n = std::min<size_t>(n, 1 + (seed >> 16) % 64);
    }
    RequestHeadReader::Result r = reader.Feed(input.substr(pos, n));
    CHECK(r.consumed <= n);
    consumed += r.consumed;
    if (r.state != State::kNeedMore) break;
    CHECK(r.consumed == n);
    pos += n;
  }
  return {reader.state(), consumed, reader.state() == State::kError ? reader.error_status() : 0};
}

void CheckHead(const RequestHead& head, std::string_view input, size_t consumed,
               const HeadLimits& limits) {
  CHECK(head.raw.size() == consumed);
  CHECK(input.substr(0, consumed) == head.raw);
  CHECK(head.raw.size() <= limits.max_head_bytes);
  CHECK(head.headers.size() <= limits.max_header_count);
  CHECK(head.fields_end <= head.raw.size());
  for (char c : head.host) CHECK(!(c >= 'A' && c <= 'Z'));
  CHECK(head.version_major == 1);
  for (const auto& f : head.headers) {
    CHECK(f.line_begin < f.value_begin || f.value_begin == f.value_end);
    CHECK(f.value_begin <= f.value_end && f.value_end < f.line_end &&
          f.line_end <= head.fields_end);
    CHECK(head.raw.substr(f.value_begin, f.value_end - f.value_begin) == f.value);
    CHECK(head.raw.substr(f.line_begin, f.name.size()) == f.name);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint32_t seed = data[0];
  HeadLimits limits;
  if (data[1] & 1) {
    // Tight bounds so the fuzzer reaches every limit quickly.
    limits.max_head_bytes = 512;
    limits.max_request_line_bytes = 128;
    limits.max_header_line_bytes = 96;
    limits.max_header_count = 8;
  }
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  RequestHeadReader whole(limits);
  Outcome a = FeedAll(whole, input, 0);
  RequestHeadReader chunked(limits);
  Outcome b = FeedAll(chunked, input, seed);
  CHECK(a.state == b.state && a.status == b.status);
  // NeedMore counts whole chunks as consumed, so only a finished head has a
  // chunking-independent count.
  if (a.state == State::kDone) CHECK(a.consumed == b.consumed);
  CHECK(a.consumed <= input.size());

  if (a.state == State::kError) {
    CHECK(a.status == 400 || a.status == 405 || a.status == 414 || a.status == 431 ||
          a.status == 505);
    CHECK(!whole.error_reason().empty());
    return 0;
  }
  if (a.state != State::kDone) return 0;
  const RequestHead& head = whole.head();
  CheckHead(head, input, a.consumed, limits);
  CHECK(head.host == chunked.head().host && head.raw == chunked.head().raw);

  reitunnel::http::ForwardingOptions options;
  options.visitor_ip = (data[1] & 2) ? "2001:db8::1" : "192.0.2.1";
  options.x_forwarded_proto = "https";
  options.x_forwarded_host = true;
  options.forwarded = (data[1] & 4) != 0;
  std::string rewritten = reitunnel::http::RewriteHead(head, options);
  HeadLimits roomy;
  roomy.max_head_bytes = 1 << 20;
  roomy.max_request_line_bytes = 1 << 20;
  roomy.max_header_line_bytes = 1 << 20;
  roomy.max_header_count = 1000;
  RequestHeadReader again(roomy);
  RequestHeadReader::Result r = again.Feed(rewritten);
  CHECK(r.state == State::kDone && r.consumed == rewritten.size());
  CHECK(again.head().host == head.host && again.head().target == head.target);
  CHECK(again.head().Find("X-Forwarded-For") != nullptr);

  auto auth = reitunnel::http::BasicAuth::WithPassword("user", "pass");
  (void)auth.Check(head);
  return 0;
}
