#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace reitunnel::transport::url {

// RFC 3986 percent-decoding ("%40" -> "@"); '+' stays '+'. A '%' not
// followed by two hex digits is an error (the text is never quoted).
absl::StatusOr<std::string> PercentDecode(std::string_view s);

}  // namespace reitunnel::transport::url
