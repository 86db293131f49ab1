#pragma once

// What YamlToProto checks on the text before yaml-cpp builds nodes from it:
// the limits of yaml_proto.h and the places where yaml-cpp 0.7 is wrong.
// Internal to reitunnel_config.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "yaml-cpp/mark.h"

namespace reitunnel::config::internal {

// Parses `yaml` as events, without building nodes, and refuses: syntax
// errors; lists and maps nested deeper than kMaxYamlNesting (checked as the
// parser descends, so its recursion never goes further); a second document;
// a quoted scalar left open at the end of the text, which yaml-cpp 0.7 loads
// as if closed there when a line break follows it. `source` is the file name
// or empty; errors read "cfg.yaml:3:5: invalid YAML: ..." or "line 3,
// column 5: invalid YAML: ...". After it succeeds, YAML::Load reads the
// whole text as that one document.
absl::Status CheckYamlSyntax(std::string_view yaml, const std::string& source);

// An error for a yaml-cpp exception: its position (if any) and its message,
// cut before any echo of the input ("unknown escape character: x").
absl::Status YamlSyntaxError(const std::string& source, const YAML::Mark& mark,
                             const std::string& yaml_cpp_message);

}  // namespace reitunnel::config::internal
