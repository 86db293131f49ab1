#pragma once

// Host syntax of RFC 9110 section 7.2 / RFC 3986 section 3.2.2, reduced to
// what a routing front end needs: the host part, normalized.

#include <optional>
#include <string>
#include <string_view>

namespace reitunnel::http {

// Parses `uri-host [ ":" port ]` (a Host header value, or an absolute URI's
// authority without userinfo). Returns the host lowercased, with IPv6
// brackets and one trailing dot removed; "" for an empty value; nullopt when
// malformed. Registered names are limited to letters, digits and "-._~"
// (percent-encoding and sub-delims have no business in a routed host name).
std::optional<std::string> ParseHostAndPort(std::string_view authority);

}  // namespace reitunnel::http
