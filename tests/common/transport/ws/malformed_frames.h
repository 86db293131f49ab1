#pragma once

// Frames a client may send that a server must refuse, with the close code
// RFC 6455 (and our limits) call for. Shared by the decoder and the stream
// tests.

#include <cstdint>
#include <string>
#include <vector>

#include "common/transport/ws/decoder.h"
#include "common/transport/ws/frame.h"

namespace reitunnel::transport::ws::testing {

inline constexpr MaskKey kTestMask = {0x37, 0xfa, 0x21, 0x3d};

// Limits small enough to hit in a test.
inline DecoderLimits SmallLimits() {
  DecoderLimits l;
  l.max_frame_payload = 1024;
  l.max_message_payload = 4096;
  return l;
}

inline std::string Masked(Opcode op, bool fin, const std::string& payload) {
  return EncodeFrame(op, fin, payload, kTestMask);
}

// A masked frame with a hand-made length field (`len_bytes` after the
// 7-bit marker `len7`).
inline std::string CustomLength(uint8_t b0, uint8_t len7, const std::string& len_bytes,
                                const std::string& payload) {
  std::string f;
  f.push_back(static_cast<char>(b0));
  f.push_back(static_cast<char>(0x80 | len7));
  f += len_bytes;
  f.append(reinterpret_cast<const char*>(kTestMask.data()), 4);
  std::string p = payload;
  ApplyMask(reinterpret_cast<uint8_t*>(p.data()), p.size(), kTestMask, 0);
  return f + p;
}

inline std::string WithB0(std::string frame, uint8_t or_bits, uint8_t and_mask = 0xff) {
  frame[0] = static_cast<char>((static_cast<uint8_t>(frame[0]) & and_mask) | or_bits);
  return frame;
}

struct MalformedFrame {
  const char* name;
  std::string bytes;
  uint16_t close_code;
};

inline std::vector<MalformedFrame> MalformedClientFrames() {
  auto close_with = [](uint16_t code, const std::string& reason) {
    return Masked(Opcode::kClose, true, EncodeClosePayload(code, "") + reason);
  };
  std::string raw_close_1byte = Masked(Opcode::kClose, true, std::string(1, '\x03'));
  return {
      {"unmasked frame from client", EncodeFrame(Opcode::kBinary, true, "abc", std::nullopt),
       close_code::kProtocolError},
      {"rsv1 set", WithB0(Masked(Opcode::kBinary, true, "abc"), 0x40), close_code::kProtocolError},
      {"rsv3 set", WithB0(Masked(Opcode::kBinary, true, "abc"), 0x10), close_code::kProtocolError},
      {"reserved data opcode 3", WithB0(Masked(Opcode::kBinary, true, "abc"), 0x03, 0xf0),
       close_code::kProtocolError},
      {"reserved control opcode 0xb", WithB0(Masked(Opcode::kPing, true, ""), 0x0b, 0xf0),
       close_code::kProtocolError},
      {"ping over 125 bytes", Masked(Opcode::kPing, true, std::string(126, 'p')),
       close_code::kProtocolError},
      {"fragmented ping", Masked(Opcode::kPing, false, "p"), close_code::kProtocolError},
      {"non-minimal 16-bit length", CustomLength(0x82, 126, std::string("\x00\x05", 2), "hello"),
       close_code::kProtocolError},
      {"non-minimal 64-bit length",
       CustomLength(0x82, 127, std::string("\x00\x00\x00\x00\x00\x00\x01\x00", 8),
                    std::string(256, 'x')),
       close_code::kProtocolError},
      {"64-bit length with top bit set",
       CustomLength(0x82, 127, std::string("\x80\x00\x00\x00\x00\x01\x00\x00", 8), ""),
       close_code::kProtocolError},
      {"continuation without a message", Masked(Opcode::kContinuation, true, "abc"),
       close_code::kProtocolError},
      {"new message inside a fragmented one",
       Masked(Opcode::kBinary, false, "a") + Masked(Opcode::kBinary, true, "b"),
       close_code::kProtocolError},
      {"text message", Masked(Opcode::kText, true, "hello"), close_code::kUnsupportedData},
      {"close with a 1-byte payload", raw_close_1byte, close_code::kProtocolError},
      {"close code 1005 on the wire", close_with(1005, ""), close_code::kProtocolError},
      {"close code 999", close_with(999, ""), close_code::kProtocolError},
      {"close code 1004", close_with(1004, ""), close_code::kProtocolError},
      {"close code 2999", close_with(2999, ""), close_code::kProtocolError},
      {"close reason not UTF-8", close_with(1000, "\xc3\x28"), close_code::kInvalidPayload},
      {"frame over the frame limit", Masked(Opcode::kBinary, true, std::string(1025, 'x')),
       close_code::kTooBig},
      {"message over the message limit",
       Masked(Opcode::kBinary, false, std::string(1000, 'a')) +
           Masked(Opcode::kContinuation, false, std::string(1000, 'b')) +
           Masked(Opcode::kContinuation, false, std::string(1000, 'c')) +
           Masked(Opcode::kContinuation, false, std::string(1000, 'd')) +
           Masked(Opcode::kContinuation, true, std::string(1000, 'e')),
       close_code::kTooBig},
  };
}

}  // namespace reitunnel::transport::ws::testing
