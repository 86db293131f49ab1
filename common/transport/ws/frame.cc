#include "common/transport/ws/frame.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace reitunnel::transport::ws {

bool IsValidWireCloseCode(uint16_t code) {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1011) return true;
  return code >= 3000 && code <= 4999;
}

std::string DescribeCloseCode(uint16_t code) {
  const char* name = nullptr;
  switch (code) {
    case close_code::kNormal:
      name = "normal closure";
      break;
    case close_code::kGoingAway:
      name = "going away";
      break;
    case close_code::kProtocolError:
      name = "protocol error";
      break;
    case close_code::kUnsupportedData:
      name = "unsupported data";
      break;
    case close_code::kNoStatus:
      name = "no status code";
      break;
    case close_code::kAbnormal:
      name = "abnormal closure";
      break;
    case close_code::kInvalidPayload:
      name = "invalid payload data";
      break;
    case close_code::kPolicyViolation:
      name = "policy violation";
      break;
    case close_code::kTooBig:
      name = "message too big";
      break;
    case 1010:
      name = "mandatory extension";
      break;
    case close_code::kInternalError:
      name = "internal error";
      break;
    default:
      break;
  }
  return name ? absl::StrCat(code, " (", name, ")") : absl::StrCat(code);
}

size_t EncodeHeader(Opcode op, bool fin, uint64_t payload_size, const std::optional<MaskKey>& mask,
                    uint8_t* out) {
  size_t n = 0;
  out[n++] = static_cast<uint8_t>((fin ? 0x80 : 0) | static_cast<uint8_t>(op));
  const uint8_t mask_bit = mask ? 0x80 : 0;
  if (payload_size < 126) {
    out[n++] = static_cast<uint8_t>(mask_bit | payload_size);
  } else if (payload_size <= 0xffff) {
    out[n++] = mask_bit | 126;
    out[n++] = static_cast<uint8_t>(payload_size >> 8);
    out[n++] = static_cast<uint8_t>(payload_size);
  } else {
    out[n++] = mask_bit | 127;
    for (int shift = 56; shift >= 0; shift -= 8) {
      out[n++] = static_cast<uint8_t>(payload_size >> shift);
    }
  }
  if (mask) {
    std::memcpy(out + n, mask->data(), 4);
    n += 4;
  }
  return n;
}

void ApplyMask(uint8_t* data, size_t size, const MaskKey& key, uint64_t offset) {
  // Rotate the key so that rotated[0] applies to data[0].
  uint8_t rotated[8];
  for (size_t i = 0; i < 8; ++i) rotated[i] = key[(offset + i) & 3];
  uint64_t word;
  std::memcpy(&word, rotated, 8);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t chunk;
    std::memcpy(&chunk, data + i, 8);
    chunk ^= word;
    std::memcpy(data + i, &chunk, 8);
  }
  for (; i < size; ++i) data[i] ^= rotated[i & 7];
}

std::string EncodeFrame(Opcode op, bool fin, std::string_view payload,
                        const std::optional<MaskKey>& mask) {
  uint8_t header[kMaxHeaderSize];
  const size_t h = EncodeHeader(op, fin, payload.size(), mask, header);
  std::string out(reinterpret_cast<const char*>(header), h);
  out.append(payload);
  if (mask) ApplyMask(reinterpret_cast<uint8_t*>(out.data() + h), payload.size(), *mask, 0);
  return out;
}

std::string EncodeClosePayload(uint16_t code, std::string_view reason) {
  std::string out;
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xff));
  size_t n = std::min(reason.size(), kMaxControlPayload - 2);
  // Back off to a UTF-8 sequence boundary.
  while (n > 0 && n < reason.size() && (static_cast<uint8_t>(reason[n]) & 0xc0) == 0x80) --n;
  out.append(reason.substr(0, n));
  return out;
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

}  // namespace reitunnel::transport::ws
