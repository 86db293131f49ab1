#pragma once

// Operator durations on the command line: "90s", "30m", "1h30m", "7d",
// "1d12h", or bare seconds ("3600").

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace reitunnel::cli {

// Parses `text`: absl duration syntax plus a leading whole number of days
// ("7d", "2d6h"). False on anything else, and on negative or infinite
// durations.
bool ParseOperatorDuration(const std::string& text, absl::Duration* out);

// --ban=DURATION as whole seconds for the admin API: from 1 s to kMaxBanSeconds,
// rounded up to the next second ("1500ms" is 2 s). On failure, `error` is a
// one-line usage message naming `flag`.
inline constexpr uint32_t kMaxBanSeconds = 366u * 24 * 3600;  // a year and a day
bool ParseBanSeconds(const std::string& flag, const std::string& text, uint32_t* seconds,
                     std::string* error);

}  // namespace reitunnel::cli
