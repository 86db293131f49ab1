#pragma once

#include <chrono>

#include "google/protobuf/timestamp.pb.h"

namespace reitunnel {

// Full precision: protobuf 3.21's TimeUtil::GetCurrentTime() drops the
// sub-second part.
inline google::protobuf::Timestamp ToTimestamp(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  google::protobuf::Timestamp ts;
  ts.set_seconds(ns / 1000000000);
  ts.set_nanos(static_cast<int32_t>(ns % 1000000000));
  return ts;
}

inline google::protobuf::Timestamp NowTimestamp() {
  return ToTimestamp(std::chrono::system_clock::now());
}

}  // namespace reitunnel
