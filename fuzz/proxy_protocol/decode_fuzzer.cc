// The PROXY protocol decoder on arbitrary bytes, and the encoders on
// addresses taken from the input: a decoded header must re-encode to bytes
// that decode to the same header, and the byte before a header's end must
// still ask for more (so a partial header is never mistaken for a whole one).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "common/proxy_protocol/proxy_protocol.h"

namespace {

namespace pp = reitunnel::proxy_protocol;
using State = pp::DecodeResult::State;

// Reports which invariant broke, so a finding explains itself.
#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

// The encoders send IPv4-mapped IPv6 addresses as IPv4 (and map IPv4 to
// IPv6 when the families differ), so compare addresses in unmapped form.
asio::ip::address Unmapped(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a;
}

bool SameEndpoint(const std::optional<pp::Endpoint>& a, const std::optional<pp::Endpoint>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (Unmapped(a->address) == Unmapped(b->address) && a->port == b->port);
}

void CheckDecoded(std::string_view input, const pp::DecodeResult& r,
                  const pp::DecodeLimits& limits) {
  CHECK(r.consumed > 0 && r.consumed <= input.size());
  // However the header arrived, every proper prefix asks for more.
  for (size_t len = 0; len < r.consumed; ++len) {
    CHECK(pp::Decode(input.substr(0, len), limits).state == State::kNeedMore);
  }
  const pp::Header& h = r.header;
  CHECK(h.source.has_value() == h.destination.has_value());
  std::string again;
  if (h.version == pp::Version::kV1) {
    CHECK(r.consumed <= pp::kV1MaxLength);
    again = h.source ? pp::EncodeV1(*h.source, *h.destination) : pp::EncodeV1Unknown();
  } else {
    absl::StatusOr<std::string> encoded = pp::EncodeV2(h);
    CHECK(encoded.ok());
    again = *encoded;
  }
  pp::DecodeLimits roomy;
  roomy.max_v2_bytes = 1 << 17;
  pp::DecodeResult back = pp::Decode(again, roomy);
  CHECK(back.state == State::kDone && back.consumed == again.size());
  CHECK(back.header.version == h.version && back.header.command == h.command);
  if (h.command == pp::Command::kProxy && h.transport != pp::Transport::kUnspec) {
    CHECK(SameEndpoint(back.header.source, h.source));
    CHECK(SameEndpoint(back.header.destination, h.destination));
  }
  if (h.version == pp::Version::kV2 && h.command == pp::Command::kProxy) {
    CHECK(back.header.tlvs.size() == h.tlvs.size());
    for (size_t i = 0; i < h.tlvs.size(); ++i) {
      CHECK(back.header.tlvs[i].type == h.tlvs[i].type &&
            back.header.tlvs[i].value == h.tlvs[i].value);
    }
  }
}

// Builds endpoints from 36 input bytes and checks both encoders round-trip.
void CheckEncoders(const uint8_t* d) {
  auto address = [](const uint8_t* bytes, bool v4) -> asio::ip::address {
    if (v4) {
      asio::ip::address_v4::bytes_type b;
      std::memcpy(b.data(), bytes, 4);
      return asio::ip::address_v4(b);
    }
    asio::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), bytes, 16);
    return asio::ip::address_v6(b);
  };
  pp::Endpoint src{address(d, d[32] & 1), static_cast<uint16_t>(d[33] << 8 | d[34])};
  pp::Endpoint dst{address(d + 16, d[32] & 2), static_cast<uint16_t>(d[34] << 8 | d[35])};
  for (pp::Version v : {pp::Version::kV1, pp::Version::kV2}) {
    std::string bytes = pp::EncodeForConnection(v, src, dst, "fuzz.example");
    pp::DecodeResult r = pp::Decode(bytes);
    CHECK(r.state == State::kDone && r.consumed == bytes.size());
    CHECK(r.header.source->port == src.port && r.header.destination->port == dst.port);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  pp::DecodeLimits limits;
  limits.max_v2_bytes = 512;
  pp::DecodeResult r = pp::Decode(input, limits);
  switch (r.state) {
    case State::kDone:
      CheckDecoded(input, r, limits);
      break;
    case State::kError:
      CHECK(!r.error.empty());
      break;
    case State::kNeedMore:
      CHECK(size < limits.max_v2_bytes);
      break;
  }
  if (size >= 36) CheckEncoders(data);
  return 0;
}
