#include "cli/duration.h"

#include <charconv>

#include "absl/strings/str_cat.h"

namespace reitunnel::cli {
namespace {

// A whole number filling `text`.
bool WholeNumber(std::string_view text, int64_t* value) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *value);
  return ec == std::errc() && ptr == end && *value >= 0;
}

}  // namespace

bool ParseOperatorDuration(const std::string& text, absl::Duration* out) {
  int64_t n = 0;
  if (WholeNumber(text, &n)) {
    *out = absl::Seconds(n);
    return true;
  }
  absl::Duration total = absl::ZeroDuration();
  std::string_view rest = text;
  // absl::ParseDuration has no days; take them off the front.
  if (const std::size_t d = rest.find('d'); d != std::string_view::npos) {
    int64_t days = 0;
    // Bounded so that the hours below cannot overflow.
    if (!WholeNumber(rest.substr(0, d), &days) || days > 100000) return false;
    total = absl::Hours(24 * days);
    rest = rest.substr(d + 1);
    if (rest.empty()) {
      *out = total;
      return true;
    }
    // "1d-2h" would otherwise subtract.
    if (rest.front() == '-' || rest.front() == '+') return false;
  }
  absl::Duration part;
  if (!absl::ParseDuration(std::string(rest), &part)) return false;
  if (part < absl::ZeroDuration() || part == absl::InfiniteDuration()) return false;
  *out = total + part;
  return true;
}

bool ParseBanSeconds(const std::string& flag, const std::string& text, uint32_t* seconds,
                     std::string* error) {
  absl::Duration d;
  if (!ParseOperatorDuration(text, &d) || d < absl::Seconds(1) ||
      d > absl::Seconds(kMaxBanSeconds)) {
    *error = absl::StrCat(flag, " wants a duration from 1s to 366d, e.g. 90s, 30m, 1h or 7d");
    return false;
  }
  *seconds = static_cast<uint32_t>(absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1))));
  return true;
}

}  // namespace reitunnel::cli
