#pragma once

// reitunnelctl's entry point, separate from main() so tests can run it.

#include <ostream>
#include <string>
#include <vector>

#include "cli/args.h"

namespace reitunnel::cli {

// Runs one command line (argv without the program name): writes results to
// `out`, one error line to `err`, and returns the exit code.
int Run(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err,
        const EnvLookup& env);

// Replaces every occurrence of `secret` in `text` (no-op when empty).
std::string Redact(std::string text, const std::string& secret);

}  // namespace reitunnel::cli
