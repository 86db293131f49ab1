#include "common/process/startup.h"

#include <sys/resource.h>

#include <csignal>
#include <iostream>

#include "common/log/log.h"
#include "common/process/protobuf_log.h"
#include "common/version.h"

namespace reitunnel::process {

std::optional<int> HandleInfoFlags(const std::vector<std::string>& args, const char* program,
                                   const std::string& usage) {
  for (const auto& a : args) {
    if (a == "--") break;
    if (a == "--help" || a == "-h") {
      std::cout << usage;
      return 0;
    }
    if (a == "--version") {
      std::cout << program << " " << kVersion << "\n";
      return 0;
    }
  }
  return std::nullopt;
}

void Setup(const config::v1::LogConfig& cfg) {
  log::Level level = log::Level::kInfo;
  log::Format format = log::Format::kText;
  log::ParseLevel(cfg.level(), &level);
  log::ParseFormat(cfg.format(), &format);
  log::Configure(level, format);
  RouteProtobufLogs();
  std::signal(SIGPIPE, SIG_IGN);
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace reitunnel::process
