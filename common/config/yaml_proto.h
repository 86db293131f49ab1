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

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace reitunnel::config {

// Replaces the contents of `msg` with the settings in `yaml`. An empty or
// null document yields an empty message. On error `msg` is left unchanged.
// Syntax errors read "line 3, column 5: invalid YAML: ...".
absl::Status YamlToProto(std::string_view yaml, google::protobuf::Message* msg);

// YamlToProto on the contents of the file at `path`. Every error starts with
// the path: "cfg.yaml: tls.cert_file: expected a string"; syntax errors read
// "cfg.yaml:3:5: invalid YAML: ...".
absl::Status LoadYamlFile(const std::string& path, google::protobuf::Message* msg);

// The inverse, for showing an effective config: set fields only, block
// style, keys in field order. YamlToProto(ProtoToYaml(m)) == m.
std::string ProtoToYaml(const google::protobuf::Message& msg);

}  // namespace reitunnel::config
