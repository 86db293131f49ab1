#pragma once

// Shared by the config fuzz targets: a loader fed the fuzz input as the text
// of its --config file, and the checks every successful load must pass.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "common/config/yaml_proto.h"
#include "fuzz/fuzz_check.h"
#include "google/protobuf/util/message_differencer.h"

namespace reitunnel::fuzz {

// A string of the same length, all spaces if `s` is all whitespace, else
// all 'x'.
inline std::string SameShape(const std::string& s) {
  bool blank = true;
  for (char c : s) blank = blank && absl::ascii_isspace(static_cast<unsigned char>(c));
  return std::string(s.size(), blank ? ' ' : 'x');
}

// Loads `text` as the --config file through `load(args, reader)`, then:
// the effective config must survive ProtoToYaml -> YamlToProto unchanged,
// and the warnings must not depend on what the tokens say.
template <typename Config, typename Load, typename Warnings>
void FuzzConfigFile(const uint8_t* data, size_t size, Load load, Warnings warnings) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto reader = [&text](const std::string&, std::string* out) {
    *out = text;
    return absl::OkStatus();
  };
  const std::vector<std::string> args = {"--config=fuzz.yaml"};
  absl::StatusOr<Config> cfg = load(args, reader);
  if (!cfg.ok()) {
    // Shown when a reproducer is run by hand (scripts/fuzz.sh closes stderr).
    std::fprintf(stderr, "error: %s\n", std::string(cfg.status().message()).c_str());
    FUZZ_CHECK(cfg.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(cfg.status().message().find('\n') == absl::string_view::npos);
    return;
  }
  const std::string yaml = config::ProtoToYaml(*cfg);
  Config back;
  FUZZ_CHECK(config::YamlToProto(yaml, &back).ok());
  FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(*cfg, back));
  // Warnings may depend on a token's length and blankness, never on its
  // bytes: a token of the same shape must give the same warnings. (Looking
  // for the token in the text instead finds the fuzzer spelling the text.)
  Config same_shape = *cfg;
  same_shape.set_token(SameShape(cfg->token()));
  if constexpr (requires { same_shape.mutable_admin_api(); }) {
    same_shape.mutable_admin_api()->set_token(SameShape(cfg->admin_api().token()));
  }
  FUZZ_CHECK(warnings(*cfg) == warnings(same_shape));
}

}  // namespace reitunnel::fuzz
