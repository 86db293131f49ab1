#pragma once

// YAML config files mapped onto proto messages by reflection, so the proto
// schema is the single definition of what a config file may contain.
//
// Keys are proto field names. Scalars convert to the field type (strings take
// any scalar verbatim, so `public_ports: 20080` works); YAML maps fill nested
// messages and map<,> fields, YAML sequences fill repeated fields. A null
// value (`tls:` with nothing under it) leaves a singular field at its default,
// like null in the proto3 JSON mapping.
//
// Error messages name the offending path ("tunnels[1].lcoal_addr: unknown
// key") and never echo scalar values: the file holds secrets.
//
// Limits, so that no text can crash or bloat the process: lists and maps nest
// at most kMaxYamlNesting levels deep (the top-level map is level 1), and a
// document converts at most kMaxYamlValues values, counting an alias each
// time it is used (anchors and aliases otherwise turn kilobytes of text into
// billions of strings).

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/config/config_file.h"
#include "google/protobuf/message.h"

namespace reitunnel::config {

inline constexpr int kMaxYamlNesting = 64;
inline constexpr int kMaxYamlValues = 100000;

// Replaces the contents of `msg` with the settings in `yaml`. An empty or
// null document yields an empty message. On error `msg` is left unchanged.
// Syntax errors read "line 3, column 5: invalid YAML: ...".
absl::Status YamlToProto(std::string_view yaml, google::protobuf::Message* msg);

// YamlToProto on the contents of the file at `path` (ReadConfigFile). Every
// error starts with the path: "cfg.yaml: tls.cert_file: expected a string";
// syntax errors read "cfg.yaml:3:5: invalid YAML: ...".
absl::Status LoadYamlFile(const std::string& path, google::protobuf::Message* msg);
// The same with the file's text coming from `read`.
absl::Status LoadYamlFile(const std::string& path, google::protobuf::Message* msg,
                          ConfigFileReader read);

// The inverse, for showing an effective config: set fields only, block
// style, keys in field order. YamlToProto(ProtoToYaml(m)) == m.
std::string ProtoToYaml(const google::protobuf::Message& msg);

}  // namespace reitunnel::config
