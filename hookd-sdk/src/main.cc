#include "reitunnel/hookd/main.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace reitunnel::hookd {
namespace {

// Returns true and sets *value when `arg` is "--<name>=<value>".
bool FlagValue(std::string_view arg, std::string_view name, std::string* value) {
  if (arg.size() < name.size() + 3 || arg.substr(0, 2) != "--" ||
      arg.substr(2, name.size()) != name || arg[name.size() + 2] != '=') {
    return false;
  }
  *value = std::string(arg.substr(name.size() + 3));
  return true;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

const char* SignalName(int signal) {
  switch (signal) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    default:
      return "none";
  }
}

}  // namespace

absl::StatusOr<HookServerOptions> ParseServerFlags(int argc, const char* const* argv,
                                                   std::vector<std::string>* unparsed,
                                                   HookServerOptions defaults) {
  HookServerOptions options = std::move(defaults);
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    std::string value;
    if (FlagValue(arg, "listen", &value)) {
      if (value.empty()) return absl::InvalidArgumentError("--listen: empty address");
      options.address = value;
    } else if (FlagValue(arg, "strategy", &value)) {
      if (value == "stop_on_error") {
        options.strategy = Strategy::kStopOnError;
      } else if (value == "collect_and_continue") {
        options.strategy = Strategy::kCollectAndContinue;
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--strategy: unknown strategy \"", value,
                                                       "\" (stop_on_error|collect_and_continue)"));
      }
    } else if (FlagValue(arg, "execution", &value)) {
      if (value == "thread_pool") {
        options.execution = Execution::kThreadPool;
      } else if (value == "inline") {
        options.execution = Execution::kInline;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("--execution: unknown mode \"", value, "\" (thread_pool|inline)"));
      }
    } else if (FlagValue(arg, "tls-cert", &value)) {
      options.tls_cert_file = value;
    } else if (FlagValue(arg, "tls-key", &value)) {
      options.tls_key_file = value;
    } else if (FlagValue(arg, "tls-client-ca", &value)) {
      options.tls_client_ca_file = value;
    } else if (unparsed != nullptr) {
      unparsed->emplace_back(arg);
    } else if (arg == "--help" || arg == "-h") {
      // The program takes no flags of its own, so nobody else can answer.
      std::printf("usage: %s [flags]\n%s", argc > 0 ? argv[0] : "hook", ServerFlagsHelp().c_str());
      std::fflush(stdout);
      std::exit(0);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown argument \"", argv[i], "\""));
    }
  }
  return options;
}

std::string ServerFlagsHelp() {
  return "  --listen=ADDR          host:port (port 0 picks a free port) or unix:///path\n"
         "                         [127.0.0.1:7100]\n"
         "  --strategy=NAME        across several hooks: stop_on_error (default) or\n"
         "                         collect_and_continue\n"
         "  --execution=MODE       where hook code runs: thread_pool (default; hook code\n"
         "                         may block) or inline (on gRPC's callback thread, lowest\n"
         "                         latency; hook code must never block)\n"
         "  --tls-cert=FILE        serve TLS with this PEM certificate ...\n"
         "  --tls-key=FILE         ... and key\n"
         "  --tls-client-ca=FILE   require client certificates signed by this CA (mTLS)\n";
}

int ServeMain(HookServer& server) {
  if (absl::Status status = server.Start(); !status.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  std::printf("{\"event\":\"listening\",\"address\":%s}\n", JsonString(server.address()).c_str());
  std::fflush(stdout);
  server.Wait();
  std::printf("{\"event\":\"stopped\",\"signal\":\"%s\"}\n", SignalName(server.stop_signal()));
  std::fflush(stdout);
  return 0;
}

}  // namespace reitunnel::hookd
