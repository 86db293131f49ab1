// The frame codec on arbitrary bytes: ParseHeader on the first 8, then
// ParsePayload on what the header announces, and ParsePayload on the whole
// input too (what a peer controls either way). Whatever parses must encode
// and parse back to an equal frame.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/wire/frame.h"
#include "fuzz/fuzz_check.h"
#include "google/protobuf/util/message_differencer.h"

namespace {

using reitunnel::wire::Header;
using reitunnel::wire::kHeaderSize;
using reitunnel::wire::kMaxPayload;
namespace v1 = reitunnel::wire::v1;

void CheckRoundTrip(const v1::Frame& frame) {
  FUZZ_CHECK(frame.msg_case() != v1::Frame::MSG_NOT_SET);
  FUZZ_CHECK(std::strcmp(reitunnel::wire::MessageName(frame), "none") != 0);
  absl::StatusOr<std::string> encoded = reitunnel::wire::Encode(frame);
  if (!encoded.ok()) {
    // Only a frame that re-encodes larger than the limit may fail (varints
    // that parse from 5 bytes can take 10 when written back).
    FUZZ_CHECK(frame.ByteSizeLong() > kMaxPayload);
    return;
  }
  FUZZ_CHECK(encoded->size() > kHeaderSize);
  Header h;
  std::memcpy(h.data(), encoded->data(), kHeaderSize);
  absl::StatusOr<uint32_t> len = reitunnel::wire::ParseHeader(h);
  FUZZ_CHECK(len.ok() && *len == encoded->size() - kHeaderSize);
  absl::StatusOr<v1::Frame> again = reitunnel::wire::ParsePayload(
      reinterpret_cast<const uint8_t*>(encoded->data()) + kHeaderSize, *len);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(frame, *again));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size <= kMaxPayload) {
    if (absl::StatusOr<v1::Frame> f = reitunnel::wire::ParsePayload(data, size); f.ok()) {
      CheckRoundTrip(*f);
    }
  }
  if (size < kHeaderSize) return 0;
  Header h;
  std::memcpy(h.data(), data, kHeaderSize);
  absl::StatusOr<uint32_t> len = reitunnel::wire::ParseHeader(h);
  if (!len.ok()) return 0;
  FUZZ_CHECK(*len > 0 && *len <= kMaxPayload);
  if (*len > size - kHeaderSize) return 0;
  if (absl::StatusOr<v1::Frame> f = reitunnel::wire::ParsePayload(data + kHeaderSize, *len);
      f.ok()) {
    CheckRoundTrip(*f);
  }
  return 0;
}
