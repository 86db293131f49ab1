#pragma once

// Helpers for a hook service's main(): the command-line flags every hook
// service shares, and a run loop that announces the bound address on stdout
// so supervisors and tests can find a port picked with port 0.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "reitunnel/hookd/hook_server.h"

namespace reitunnel::hookd {

// Parses the shared flags from argv[1..argc-1]:
//   --listen=ADDR              host:port (port 0 picks one) or unix:///path
//   --strategy=NAME            stop_on_error (default) | collect_and_continue
//   --execution=MODE           thread_pool (default) | inline
//   --tls-cert=FILE --tls-key=FILE [--tls-client-ca=FILE]
// starting from `defaults`. Other arguments are appended, in order, to
// `unparsed` when it is non-null (the program then answers --help itself,
// with ServerFlagsHelp() in its text), and are an error otherwise, except
// --help and -h, which then print the shared flags on stdout and exit 0.
absl::StatusOr<HookServerOptions> ParseServerFlags(int argc, const char* const* argv,
                                                   std::vector<std::string>* unparsed = nullptr,
                                                   HookServerOptions defaults = {});

// The --help text for the shared flags.
std::string ServerFlagsHelp();

// Starts `server`, prints {"event":"listening","address":"HOST:PORT"} as one
// line on stdout, waits for SIGTERM/SIGINT and prints
// {"event":"stopped","signal":"SIGTERM"}. Returns the process exit code: 0, or
// 1 when the server cannot start (the reason goes to stderr).
int ServeMain(HookServer& server);

}  // namespace reitunnel::hookd
