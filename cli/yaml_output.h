#pragma once

// `-o yaml`: admin API messages as YAML documents with the same keys as
// `-o json` (proto field names, every primitive field present, enums by
// name, timestamps as RFC 3339 strings, map entries sorted by key).
//
// Unlike the JSON mapping, 64-bit integers are YAML integers (YAML has no
// double-precision limit to work around). Strings that a YAML reader would
// take for something else ("0123", "true", "null", "") are quoted, so every
// string reads back as the same string.

#include <string>

#include "google/protobuf/message.h"

namespace reitunnel::cli {

// One block-style YAML document without the leading "---", ending in a
// newline.
std::string ToYaml(const google::protobuf::Message& msg);

// Whether a plain YAML scalar `s` would be read as anything but this string
// (a number, boolean, null, or nothing). Exposed for tests.
bool YamlNeedsQuotes(const std::string& s);

}  // namespace reitunnel::cli
