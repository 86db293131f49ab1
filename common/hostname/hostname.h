#pragma once

// DNS host names as Reitunnel routes them (HTTP Host, TLS SNI, tunnel
// hostname claims). One definition of "valid" keeps the three consistent: a
// name a tunnel can claim is exactly a name a visitor can reach.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace reitunnel::hostname {

inline constexpr size_t kMaxLength = 253;
inline constexpr size_t kMaxLabelLength = 63;

// The canonical form of `name` if it is a valid host name, else nullopt.
// Canonical: ASCII-lowercased, one trailing dot (the DNS root) removed.
// Valid (RFC 1123 section 2.1 with RFC 3696 section 2): dot-separated labels
// of 1..63 letters, digits and '-', not starting or ending with '-'; at most
// 253 characters; the last label not all digits, so IPv4 literals are not
// host names. Internationalized names must arrive as punycode A-labels
// ("xn--..."); any non-ASCII byte makes the name invalid.
std::optional<std::string> Normalize(std::string_view name);

// True when `name` is already canonical and valid (Normalize(name) == name),
// without allocating.
bool IsCanonical(std::string_view name);

}  // namespace reitunnel::hostname
