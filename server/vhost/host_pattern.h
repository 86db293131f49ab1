#pragma once

// Hostname patterns a routed tunnel claims: an exact host name, or a
// wildcard "*.<suffix>" whose "*" is the whole first label.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace reitunnel::server::vhost {

struct HostPattern {
  // Canonical host name (hostname::Normalize); for a wildcard, the suffix
  // after "*." ("example.com" for "*.example.com").
  std::string name;
  bool wildcard = false;

  std::string ToString() const { return wildcard ? "*." + name : name; }
  bool operator==(const HostPattern&) const = default;
};

// Validates and canonicalizes a claimed pattern. "*" alone, "*" anywhere but
// as the first label, and partial-label wildcards ("*a.example.com") are
// rejected; the whole pattern is at most 253 characters.
absl::StatusOr<HostPattern> ParseHostPattern(std::string_view pattern);

}  // namespace reitunnel::server::vhost
