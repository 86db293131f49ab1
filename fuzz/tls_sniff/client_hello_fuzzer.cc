// The ClientHello reader on arbitrary bytes, fed whole and in chunkings
// chosen by the first input byte: both must agree, and a completed hello
// must report a canonical host name. The body parser also runs directly on
// the input, since most mutations never get past the record layer.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/hostname/hostname.h"
#include "common/tls_sniff/client_hello_reader.h"

namespace {

using reitunnel::tls_sniff::ClientHelloInfo;
using reitunnel::tls_sniff::ClientHelloReader;
using reitunnel::tls_sniff::SniffLimits;
using State = ClientHelloReader::State;

// Reports which invariant broke, so a finding explains itself.
#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

size_t FeedAll(ClientHelloReader& reader, std::string_view input, uint32_t seed) {
  size_t consumed = 0;
  size_t pos = 0;
  while (pos < input.size()) {
    size_t n = input.size() - pos;
    if (seed != 0) {
      seed = seed * 1103515245u + 12345u;
      n = std::min<size_t>(n, 1 + (seed >> 16) % 48);
    }
    ClientHelloReader::Result r = reader.Feed(input.substr(pos, n));
    CHECK(r.consumed <= n);
    consumed += r.consumed;
    if (r.state != State::kNeedMore) break;
    CHECK(r.consumed == n);
    pos += n;
  }
  return consumed;
}

void CheckInfo(const ClientHelloInfo& info) {
  if (info.server_name) CHECK(reitunnel::hostname::IsCanonical(*info.server_name));
  for (const auto& p : info.alpn) CHECK(!p.empty() && p.size() <= 255);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  SniffLimits limits;
  limits.max_records = 8;  // small, so the fuzzer reaches the bound

  ClientHelloReader whole(limits);
  size_t a = FeedAll(whole, input, 0);
  ClientHelloReader chunked(limits);
  size_t b = FeedAll(chunked, input, data[0]);
  CHECK(whole.state() == chunked.state() && a <= input.size());
  // NeedMore counts whole chunks as consumed, so only a finished hello has a
  // chunking-independent count.
  if (whole.state() == State::kDone) CHECK(a == b);
  if (whole.state() == State::kDone) {
    CheckInfo(whole.info());
    CHECK(whole.info().server_name == chunked.info().server_name);
    CHECK(whole.info().alpn == chunked.info().alpn);
  } else if (whole.state() != State::kNeedMore) {
    CHECK(!whole.error_reason().empty());
  }

  ClientHelloInfo info;
  std::string_view error;
  if (reitunnel::tls_sniff::ParseClientHello(input, &info, &error)) {
    CheckInfo(info);
  } else {
    CHECK(!error.empty());
  }
  return 0;
}
