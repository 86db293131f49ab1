#include "common/process/grpc_log.h"

#include <string_view>

#include "common/log/log.h"
#include "grpc/support/log.h"

namespace reitunnel::process {
namespace {

log::Level LevelOf(gpr_log_severity severity) {
  switch (severity) {
    case GPR_LOG_SEVERITY_DEBUG:
      return log::Level::kDebug;
    case GPR_LOG_SEVERITY_INFO:
      return log::Level::kInfo;
    case GPR_LOG_SEVERITY_ERROR:
      break;
  }
  return log::Level::kError;
}

std::string_view BaseName(const char* path) {
  if (path == nullptr) return "";
  std::string_view p(path);
  const std::size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

void Forward(gpr_log_func_args* args) {
  const log::Level level = LevelOf(args->severity);
  if (!log::Enabled(level)) return;
  std::string_view msg = args->message != nullptr ? args->message : "";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.remove_suffix(1);
  log::Log(level, "grpc_core", msg, {{"file", BaseName(args->file)}, {"line", args->line}});
}

}  // namespace

void RouteGrpcLogs() {
  // Reads GRPC_VERBOSITY now (default: errors only), before gRPC is started:
  // until then gRPC would pass every severity to the function.
  gpr_log_verbosity_init();
  gpr_set_log_function(Forward);
}

}  // namespace reitunnel::process
