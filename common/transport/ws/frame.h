#pragma once

// RFC 6455 framing primitives: header encoding, masking, close payloads.
// Pure functions over bytes; the decoder is in decoder.h.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reitunnel::transport::ws {

enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xa,
};

inline bool IsControl(Opcode op) { return (static_cast<uint8_t>(op) & 0x8) != 0; }

// Close status codes (RFC 6455 section 7.4.1) that we send or map.
namespace close_code {
inline constexpr uint16_t kNormal = 1000;
inline constexpr uint16_t kGoingAway = 1001;
inline constexpr uint16_t kProtocolError = 1002;
inline constexpr uint16_t kUnsupportedData = 1003;
inline constexpr uint16_t kNoStatus = 1005;  // never on the wire
inline constexpr uint16_t kAbnormal = 1006;  // never on the wire
inline constexpr uint16_t kInvalidPayload = 1007;
inline constexpr uint16_t kPolicyViolation = 1008;
inline constexpr uint16_t kTooBig = 1009;
inline constexpr uint16_t kInternalError = 1011;
}  // namespace close_code

// Whether a peer may put `code` in a Close frame: 1000-1003, 1007-1011,
// 3000-4999 (section 7.4).
bool IsValidWireCloseCode(uint16_t code);

// "1002 (protocol error)" for messages and logs.
std::string DescribeCloseCode(uint16_t code);

using MaskKey = std::array<uint8_t, 4>;

inline constexpr size_t kMaxHeaderSize = 14;
inline constexpr size_t kMaxControlPayload = 125;

// Writes a frame header (RSV bits clear, minimal length encoding) to `out`;
// returns its size (2 to 14).
size_t EncodeHeader(Opcode op, bool fin, uint64_t payload_size, const std::optional<MaskKey>& mask,
                    uint8_t* out);

// XORs `data` with `key`, `offset` bytes into the masked payload (the
// transform is its own inverse).
void ApplyMask(uint8_t* data, size_t size, const MaskKey& key, uint64_t offset);

// A whole frame: header + payload, masked when `mask` is set.
std::string EncodeFrame(Opcode op, bool fin, std::string_view payload,
                        const std::optional<MaskKey>& mask);

// Close payload: 2-byte code + UTF-8 reason, cut so the payload fits 125
// bytes without splitting a UTF-8 sequence.
std::string EncodeClosePayload(uint16_t code, std::string_view reason);

// RFC 3629 UTF-8: no overlongs, no surrogates, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view s);

}  // namespace reitunnel::transport::ws
