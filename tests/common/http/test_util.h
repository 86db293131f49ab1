#pragma once

#include <string>
#include <string_view>

#include "common/http/request_head.h"
#include "gtest/gtest.h"

namespace reitunnel::http::testing {

// Feeds `bytes` in one piece and expects a complete head.
inline RequestHead ParseHead(std::string_view bytes, HeadLimits limits = {}) {
  RequestHeadReader reader(limits);
  RequestHeadReader::Result r = reader.Feed(bytes);
  EXPECT_EQ(r.state, RequestHeadReader::State::kDone)
      << "status " << reader.error_status() << ": " << reader.error_reason();
  return reader.TakeHead();
}

// Feeds `bytes` in one piece and returns the error status (0 if none).
inline int ErrorStatus(std::string_view bytes, HeadLimits limits = {}) {
  RequestHeadReader reader(limits);
  reader.Feed(bytes);
  return reader.state() == RequestHeadReader::State::kError ? reader.error_status() : 0;
}

}  // namespace reitunnel::http::testing
