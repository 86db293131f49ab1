#include "common/process/protobuf_log.h"

#include <string>
#include <string_view>

#include "common/log/log.h"
#include "google/protobuf/stubs/logging.h"

namespace reitunnel::process {
namespace {

log::Level LevelOf(google::protobuf::LogLevel level) {
  switch (level) {
    case google::protobuf::LOGLEVEL_INFO:
      return log::Level::kInfo;
    case google::protobuf::LOGLEVEL_WARNING:
      return log::Level::kWarn;
    case google::protobuf::LOGLEVEL_ERROR:
    case google::protobuf::LOGLEVEL_FATAL:
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

void Forward(google::protobuf::LogLevel level, const char* filename, int line,
             const std::string& message) {
  log::Log(LevelOf(level), "protobuf", message, {{"file", BaseName(filename)}, {"line", line}});
}

}  // namespace

void RouteProtobufLogs() { google::protobuf::SetLogHandler(Forward); }

}  // namespace reitunnel::process
