#pragma once

// Small text helpers for HTTP heads: making peer-supplied text safe to put
// in a log line or error message, and validating what we send.

#include <cstddef>
#include <string>
#include <string_view>

namespace reitunnel::transport::http1 {

// Printable ASCII kept, anything else (and '\') as \xNN; at most `max`
// characters, then "..." when cut. For text from peers (status lines,
// paths) going into logs and errors.
std::string SanitizeForLog(std::string_view s, size_t max = 200);

// RFC 9110 token (header field names, methods).
bool IsToken(std::string_view s);
// A header value we may send: visible ASCII, space and tab; no CR/LF.
bool IsSafeFieldValue(std::string_view s);

// ASCII case-insensitive.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Without leading and trailing spaces and tabs.
std::string_view TrimBlanks(std::string_view s);

}  // namespace reitunnel::transport::http1
