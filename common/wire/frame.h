#pragma once

// Frame codec for the agent <-> server protocol (see wire.proto for the
// layout). Pure functions over bytes so they can be tested and fuzzed without
// sockets.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "reitunnel/wire/v1/wire.pb.h"

namespace reitunnel::wire {

inline constexpr size_t kHeaderSize = 8;
inline constexpr uint8_t kProtocolVersion = 1;
// Control messages are tiny; anything bigger is an attack or a bug. The bound
// is checked on the header, before the payload is allocated.
inline constexpr uint32_t kMaxPayload = 16 * 1024;

using Header = std::array<uint8_t, kHeaderSize>;

// Validates magic, version and reserved byte; returns the payload length.
absl::StatusOr<uint32_t> ParseHeader(const Header& header);

// Parses a payload whose length came from ParseHeader. Rejects bytes that are
// not a Frame and frames with no message set.
absl::StatusOr<v1::Frame> ParsePayload(const uint8_t* data, size_t size);

// Header + payload, ready to write. Fails only if the frame exceeds
// kMaxPayload, which is a programming error for the frames we send.
absl::StatusOr<std::string> Encode(const v1::Frame& frame);

// A short name of the frame's message ("hello", "ping", ...), for errors.
const char* MessageName(const v1::Frame& frame);

}  // namespace reitunnel::wire
