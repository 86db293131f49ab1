#include "common/transport/ws/decoder.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace reitunnel::transport::ws {
namespace {

// Bytes of header implied by the first two bytes.
size_t HeaderSize(uint8_t b1) {
  const uint8_t len7 = b1 & 0x7f;
  size_t n = 2;
  if (len7 == 126) n += 2;
  if (len7 == 127) n += 8;
  if (b1 & 0x80) n += 4;
  return n;
}

bool IsKnownOpcode(uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xa); }

}  // namespace

FrameDecoder::Event FrameDecoder::Fail(uint16_t code, std::string message) {
  state_ = State::kDone;
  final_ = Event{};
  final_.kind = Kind::kError;
  final_.error_code = code;
  final_.error = std::move(message);
  return final_;
}

bool FrameDecoder::StartFrame(Event* ev) {
  const uint8_t b0 = header_[0];
  const uint8_t b1 = header_[1];
  fin_ = (b0 & 0x80) != 0;
  const uint8_t raw_op = b0 & 0x0f;
  masked_ = (b1 & 0x80) != 0;
  if (b0 & 0x70) {
    *ev = Fail(close_code::kProtocolError, "reserved bits set without a negotiated extension");
    return false;
  }
  if (!IsKnownOpcode(raw_op)) {
    *ev = Fail(close_code::kProtocolError, absl::StrCat("reserved opcode ", raw_op));
    return false;
  }
  opcode_ = static_cast<Opcode>(raw_op);
  if (role_ == Role::kServer && !masked_) {
    *ev = Fail(close_code::kProtocolError, "unmasked frame from a client");
    return false;
  }
  if (role_ == Role::kClient && masked_) {
    *ev = Fail(close_code::kProtocolError, "masked frame from a server");
    return false;
  }
  const uint8_t len7 = b1 & 0x7f;
  uint64_t len = len7;
  size_t pos = 2;
  if (len7 == 126) {
    len = (uint64_t{header_[2]} << 8) | header_[3];
    pos = 4;
    if (len < 126) {
      *ev = Fail(close_code::kProtocolError, "non-minimal payload length encoding");
      return false;
    }
  } else if (len7 == 127) {
    len = 0;
    for (size_t i = 0; i < 8; ++i) len = (len << 8) | header_[2 + i];
    pos = 10;
    if (len >> 63) {
      *ev = Fail(close_code::kProtocolError, "payload length with the most significant bit set");
      return false;
    }
    if (len <= 0xffff) {
      *ev = Fail(close_code::kProtocolError, "non-minimal payload length encoding");
      return false;
    }
  }
  if (masked_) std::memcpy(mask_.data(), header_ + pos, 4);
  mask_offset_ = 0;
  payload_left_ = len;

  if (IsControl(opcode_)) {
    if (!fin_) {
      *ev = Fail(close_code::kProtocolError, "fragmented control frame");
      return false;
    }
    if (len > kMaxControlPayload) {
      *ev = Fail(close_code::kProtocolError, "control frame payload over 125 bytes");
      return false;
    }
    control_size_ = static_cast<size_t>(len);
    control_len_ = 0;
    state_ = State::kControlPayload;
    if (len == 0) {
      *ev = FinishControl();
      return false;
    }
    return true;
  }

  if (opcode_ == Opcode::kContinuation && !in_message_) {
    *ev = Fail(close_code::kProtocolError, "continuation frame without a message to continue");
    return false;
  }
  if (opcode_ != Opcode::kContinuation && in_message_) {
    *ev = Fail(close_code::kProtocolError, "new data message inside a fragmented message");
    return false;
  }
  if (opcode_ == Opcode::kText) {
    *ev = Fail(close_code::kUnsupportedData, "text messages are not supported (binary only)");
    return false;
  }
  if (len > limits_.max_frame_payload) {
    *ev = Fail(close_code::kTooBig, absl::StrCat("frame payload of ", len, " bytes exceeds ",
                                                 limits_.max_frame_payload));
    return false;
  }
  const uint64_t before = opcode_ == Opcode::kContinuation ? message_size_ : 0;
  if (len > limits_.max_message_payload - std::min(before, limits_.max_message_payload)) {
    *ev = Fail(close_code::kTooBig,
               absl::StrCat("message exceeds ", limits_.max_message_payload, " bytes"));
    return false;
  }
  message_size_ = before + len;
  in_message_ = !fin_;
  if (!in_message_) message_size_ = 0;
  state_ = State::kDataPayload;
  if (len == 0) state_ = State::kHeader;
  return true;
}

FrameDecoder::Event FrameDecoder::FinishControl() {
  state_ = State::kHeader;
  if (masked_) ApplyMask(control_, control_size_, mask_, 0);
  Event ev;
  const std::string_view payload(reinterpret_cast<const char*>(control_), control_size_);
  switch (opcode_) {
    case Opcode::kPing:
      ev.kind = Kind::kPing;
      ev.control_payload = payload;
      return ev;
    case Opcode::kPong:
      ev.kind = Kind::kPong;
      ev.control_payload = payload;
      return ev;
    default:
      break;
  }
  // Close.
  if (control_size_ == 1)
    return Fail(close_code::kProtocolError, "close frame with a 1-byte payload");
  ev.kind = Kind::kClose;
  if (control_size_ >= 2) {
    ev.close_code = static_cast<uint16_t>((control_[0] << 8) | control_[1]);
    if (!IsValidWireCloseCode(ev.close_code)) {
      return Fail(close_code::kProtocolError, absl::StrCat("invalid close code ", ev.close_code));
    }
    const std::string_view reason = payload.substr(2);
    if (!IsValidUtf8(reason)) {
      return Fail(close_code::kInvalidPayload, "close reason is not valid UTF-8");
    }
    ev.close_reason = std::string(reason);
  }
  state_ = State::kDone;
  final_ = ev;
  return ev;
}

FrameDecoder::Event FrameDecoder::Decode(uint8_t* in, size_t n, size_t max_data) {
  if (state_ == State::kDone) {
    Event again = final_;
    again.consumed = 0;
    return again;
  }
  size_t used = 0;
  auto with_consumed = [&used](Event ev) {
    ev.consumed = used;
    return ev;
  };
  while (used < n) {
    switch (state_) {
      case State::kHeader: {
        // Copy just what the header needs: at least 2 bytes, then the size
        // those imply.
        const size_t want = header_len_ < 2 ? 2 : HeaderSize(header_[1]);
        const size_t take = std::min(want - header_len_, n - used);
        std::memcpy(header_ + header_len_, in + used, take);
        header_len_ += take;
        used += take;
        if (header_len_ < 2 || header_len_ < HeaderSize(header_[1])) continue;
        header_len_ = 0;
        Event ev;
        if (!StartFrame(&ev)) return with_consumed(std::move(ev));
        continue;
      }
      case State::kDataPayload: {
        const size_t take = static_cast<size_t>(
            std::min<uint64_t>({payload_left_, n - used, std::max<size_t>(max_data, 1)}));
        uint8_t* p = in + used;
        if (masked_) ApplyMask(p, take, mask_, mask_offset_);
        mask_offset_ += take;
        payload_left_ -= take;
        used += take;
        if (payload_left_ == 0) state_ = State::kHeader;
        Event ev;
        ev.kind = Kind::kData;
        ev.data = p;
        ev.size = take;
        return with_consumed(std::move(ev));
      }
      case State::kControlPayload: {
        const size_t take = std::min(control_size_ - control_len_, n - used);
        std::memcpy(control_ + control_len_, in + used, take);
        control_len_ += take;
        used += take;
        if (control_len_ == control_size_) return with_consumed(FinishControl());
        continue;
      }
      case State::kDone:
        return with_consumed(final_);
    }
  }
  return with_consumed(Event{});
}

}  // namespace reitunnel::transport::ws
