#pragma once

// Reading a config file from disk, safely for a daemon at start: only regular
// files (a FIFO would block forever waiting for a writer, a device could hand
// out endless bytes) and only up to a size no config file comes near.

#include <cstddef>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace reitunnel::config {

// Config files are small; the cap keeps a mistaken path (a log, a disk image)
// from being slurped into memory.
inline constexpr std::size_t kMaxConfigFileBytes = 4 << 20;

// Replaces `*out` with the contents of the file at `path`. Errors start with
// the path: "x.yaml: cannot read: No such file or directory", "x.yaml: cannot
// read: a FIFO (named pipe), not a regular file", "x.yaml: too large for a
// config file (...)". Never blocks on a FIFO or a device.
absl::Status ReadConfigFile(const std::string& path, std::string* out);

// Where the config loaders get the text behind --config: ReadConfigFile in
// the daemons; tests and fuzzers pass their own to feed text without files.
using ConfigFileReader = absl::FunctionRef<absl::Status(const std::string& path, std::string* out)>;

}  // namespace reitunnel::config
