#include "common/wire/frame.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace reitunnel::wire {

absl::StatusOr<uint32_t> ParseHeader(const Header& h) {
  if (h[0] != 'R' || h[1] != 'T') {
    return absl::InvalidArgumentError("not a reitunnel frame (bad magic)");
  }
  if (h[2] != kProtocolVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported protocol version ", static_cast<int>(h[2]), " (this side speaks ",
                     static_cast<int>(kProtocolVersion), ")"));
  }
  if (h[3] != 0) return absl::InvalidArgumentError("reserved header byte is not zero");
  uint32_t len = (uint32_t{h[4]} << 24) | (uint32_t{h[5]} << 16) | (uint32_t{h[6]} << 8) |
                 uint32_t{h[7]};
  if (len == 0) return absl::InvalidArgumentError("empty frame");
  if (len > kMaxPayload) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame length ", len, " exceeds the limit of ", kMaxPayload));
  }
  return len;
}

absl::StatusOr<v1::Frame> ParsePayload(const uint8_t* data, size_t size) {
  v1::Frame frame;
  if (!frame.ParseFromArray(data, static_cast<int>(size))) {
    return absl::InvalidArgumentError("malformed frame payload");
  }
  if (frame.msg_case() == v1::Frame::MSG_NOT_SET) {
    return absl::InvalidArgumentError("frame carries no known message");
  }
  return frame;
}

absl::StatusOr<std::string> Encode(const v1::Frame& frame) {
  size_t len = frame.ByteSizeLong();
  if (len > kMaxPayload) {
    return absl::InternalError(absl::StrCat("frame of ", len, " bytes exceeds the limit"));
  }
  std::string out(kHeaderSize + len, '\0');
  out[0] = 'R';
  out[1] = 'T';
  out[2] = static_cast<char>(kProtocolVersion);
  out[3] = 0;
  out[4] = static_cast<char>(len >> 24);
  out[5] = static_cast<char>(len >> 16);
  out[6] = static_cast<char>(len >> 8);
  out[7] = static_cast<char>(len);
  frame.SerializeToArray(out.data() + kHeaderSize, static_cast<int>(len));
  return out;
}

const char* MessageName(const v1::Frame& frame) {
  switch (frame.msg_case()) {
    case v1::Frame::kChallenge: return "challenge";
    case v1::Frame::kHello: return "hello";
    case v1::Frame::kWelcome: return "welcome";
    case v1::Frame::kDataReady: return "data_ready";
    case v1::Frame::kRefused: return "refused";
    case v1::Frame::kOpenTunnel: return "open_tunnel";
    case v1::Frame::kTunnelOpened: return "tunnel_opened";
    case v1::Frame::kTunnelRefused: return "tunnel_refused";
    case v1::Frame::kNeedDataConns: return "need_data_conns";
    case v1::Frame::kPing: return "ping";
    case v1::Frame::kPong: return "pong";
    case v1::Frame::kStartRelay: return "start_relay";
    case v1::Frame::kGoodbye: return "goodbye";
    case v1::Frame::kTunnelClosed: return "tunnel_closed";
    case v1::Frame::kRetireDataConns: return "retire_data_conns";
    case v1::Frame::kClusterUpdate: return "cluster_update";
    case v1::Frame::MSG_NOT_SET: break;
  }
  return "none";
}

}  // namespace reitunnel::wire
