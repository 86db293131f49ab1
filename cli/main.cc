// reitunnelctl: the Reitunnel admin CLI, a gRPC client of reitunneld's admin
// API. See `reitunnelctl --help`.

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cli/run.h"
#include "grpc/support/log.h"

namespace {

// gRPC's own log lines (handshake failures, retries...) would break the
// one-error-line contract; the error that matters is reported by the CLI.
// GRPC_VERBOSITY=debug (or info/error) brings them back.
void DropGrpcLog(gpr_log_func_args*) {}

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function(DropGrpcLog);
  std::vector<std::string> args(argv + 1, argv + argc);
  return reitunnel::cli::Run(args, std::cout, std::cerr,
                             [](const char* name) { return std::getenv(name); });
}
