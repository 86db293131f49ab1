#pragma once

// Incremental RFC 6455 frame decoder for a byte-stream use of WebSocket:
// binary message payloads come out as they arrive (never buffered whole),
// control frames come out whole (at most 125 bytes), anything against the
// RFC or our limits comes out as an error carrying the close code to send.
// Pure code over bytes: no I/O, fuzzed in fuzz/ws/.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/transport/ws/frame.h"

namespace reitunnel::transport::ws {

// Which end we are: servers receive masked frames, clients unmasked ones.
enum class Role { kClient, kServer };

struct DecoderLimits {
  // Largest payload of one frame, and of one (possibly fragmented) message.
  // Our own sender uses 64 KiB frames, one message each; other senders get
  // headroom. Past a limit: close 1009.
  uint64_t max_frame_payload = uint64_t{1} << 20;     // 1 MiB
  uint64_t max_message_payload = uint64_t{16} << 20;  // 16 MiB
};

class FrameDecoder {
 public:
  enum class Kind {
    kNeedMore,  // all input consumed, no event
    kData,      // binary payload bytes: data/size
    kPing,      // control_payload
    kPong,      // control_payload
    kClose,     // close_code / close_reason (kNoStatus when the frame had none)
    kError,     // error_code / error: the stream is broken; send Close(error_code)
  };

  struct Event {
    Kind kind = Kind::kNeedMore;
    size_t consumed = 0;  // input bytes used, whatever the kind
    // kData: unmasked in place inside the input; size <= max_data.
    uint8_t* data = nullptr;
    size_t size = 0;
    // kPing/kPong: valid until the next Decode().
    std::string_view control_payload;
    uint16_t close_code = close_code::kNoStatus;
    std::string close_reason;
    uint16_t error_code = 0;
    std::string error;
  };

  FrameDecoder(Role role, DecoderLimits limits) : role_(role), limits_(limits) {}

  // Consumes input up to the first event. Masked payload is unmasked in
  // place, so `in` must be writable. `max_data` (>= 1) caps the bytes of one
  // kData event. After kError or kClose every call returns that event again
  // with consumed 0.
  Event Decode(uint8_t* in, size_t n, size_t max_data);

  // True between a data frame's header and the end of its payload: the next
  // data_payload_left() input bytes are all payload (a reader may then read
  // straight into its destination and Decode there).
  bool in_data_payload() const { return state_ == State::kDataPayload; }
  uint64_t data_payload_left() const { return payload_left_; }
  bool in_fragmented_message() const { return in_message_; }

 private:
  enum class State { kHeader, kDataPayload, kControlPayload, kDone };

  Event Fail(uint16_t code, std::string message);
  // Validates the complete header in header_; sets up the payload state or
  // returns an error/control event (for empty control frames).
  bool StartFrame(Event* ev);
  Event FinishControl();

  const Role role_;
  const DecoderLimits limits_;
  State state_ = State::kHeader;

  uint8_t header_[kMaxHeaderSize];
  size_t header_len_ = 0;

  Opcode opcode_ = Opcode::kContinuation;
  bool fin_ = false;
  bool masked_ = false;
  MaskKey mask_{};
  uint64_t payload_left_ = 0;
  uint64_t mask_offset_ = 0;

  bool in_message_ = false;  // a non-final data frame was seen
  uint64_t message_size_ = 0;

  uint8_t control_[kMaxControlPayload];
  size_t control_len_ = 0;
  size_t control_size_ = 0;

  Event final_;  // the kError or kClose that ended decoding
};

}  // namespace reitunnel::transport::ws
