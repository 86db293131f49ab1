// The WebSocket frame decoder on arbitrary bytes, as client and as server.
// The first two input bytes pick the role, limits, chunking and the
// per-event data cap; whatever they are, the decoded result must equal a
// one-piece decode, every event must respect its bounds, and decoding must
// always make progress.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/transport/ws/decoder.h"
#include "fuzz/fuzz_check.h"

namespace {

using reitunnel::transport::ws::DecoderLimits;
using reitunnel::transport::ws::FrameDecoder;
using reitunnel::transport::ws::Role;
using Kind = FrameDecoder::Kind;

struct Result {
  std::string data;
  std::vector<std::pair<Kind, std::string>> controls;
  Kind end = Kind::kNeedMore;
  uint16_t code = 0;
  std::string reason;

  bool operator==(const Result&) const = default;
};

Result Run(Role role, DecoderLimits limits, std::string input, uint32_t seed, size_t max_data) {
  FrameDecoder d(role, limits);
  Result r;
  size_t pos = 0;
  uint32_t lcg = seed;
  while (pos < input.size()) {
    size_t piece = input.size() - pos;
    if (seed != 0) {
      lcg = lcg * 1103515245u + 12345u;
      piece = std::min<size_t>(piece, (lcg >> 16) % 40 + 1);
    }
    const size_t end = pos + piece;
    while (pos < end) {
      const size_t n = end - pos;
      FrameDecoder::Event ev =
          d.Decode(reinterpret_cast<uint8_t*>(input.data() + pos), n, max_data);
      FUZZ_CHECK(ev.consumed <= n);
      pos += ev.consumed;
      switch (ev.kind) {
        case Kind::kNeedMore:
          FUZZ_CHECK(pos == end);
          break;
        case Kind::kData:
          FUZZ_CHECK(ev.size > 0 && ev.size <= max_data && ev.size <= ev.consumed);
          r.data.append(reinterpret_cast<const char*>(ev.data), ev.size);
          break;
        case Kind::kPing:
        case Kind::kPong:
          FUZZ_CHECK(ev.consumed > 0);
          FUZZ_CHECK(ev.control_payload.size() <= 125);
          r.controls.emplace_back(ev.kind, std::string(ev.control_payload));
          break;
        case Kind::kClose:
        case Kind::kError: {
          r.end = ev.kind;
          r.code = ev.kind == Kind::kClose ? ev.close_code : ev.error_code;
          r.reason = ev.kind == Kind::kClose ? ev.close_reason : ev.error;
          if (ev.kind == Kind::kError) {
            FUZZ_CHECK(ev.error_code == 1002 || ev.error_code == 1003 || ev.error_code == 1007 ||
                       ev.error_code == 1009);
          }
          // Sticky: nothing more is consumed.
          uint8_t probe[4] = {0x82, 0x00, 0, 0};
          FrameDecoder::Event again = d.Decode(probe, sizeof(probe), 1);
          FUZZ_CHECK(again.kind == ev.kind && again.consumed == 0);
          return r;
        }
      }
    }
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 1 << 20) return 0;
  const Role role = (data[0] & 1) ? Role::kServer : Role::kClient;
  DecoderLimits limits;
  if (data[0] & 2) {
    limits.max_frame_payload = 64;
    limits.max_message_payload = 200;
  }
  const uint32_t seed = data[0] >> 2;
  const size_t max_data = static_cast<size_t>(data[1]) + 1;
  const std::string input(reinterpret_cast<const char*>(data) + 2, size - 2);

  const Result whole = Run(role, limits, input, 0, 1 << 20);
  FUZZ_CHECK(whole.data.size() <= input.size());
  const Result pieces = Run(role, limits, input, seed, max_data);
  FUZZ_CHECK(pieces == whole);
  return 0;
}
