#include "common/log/log.h"

#include <unistd.h>

#include <atomic>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace reitunnel::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<Format> g_format{Format::kText};

const char* LevelName(Level level, bool upper) {
  switch (level) {
    case Level::kDebug: return upper ? "DEBUG" : "debug";
    case Level::kInfo: return upper ? "INFO" : "info";
    case Level::kWarn: return upper ? "WARN" : "warn";
    case Level::kError: return upper ? "ERROR" : "error";
  }
  return "?";
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          absl::StrAppend(out, "\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

// Text values are quoted only when needed so lines stay grep-friendly and a
// value can never forge another key=value pair or a line break.
void AppendTextValue(std::string* out, std::string_view s) {
  bool plain = !s.empty();
  for (unsigned char c : s) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) {
      plain = false;
      break;
    }
  }
  if (plain) {
    out->append(s);
  } else {
    AppendJsonString(out, s);
  }
}

}  // namespace

bool ParseLevel(std::string_view name, Level* level) {
  if (name == "debug") *level = Level::kDebug;
  else if (name == "info") *level = Level::kInfo;
  else if (name == "warn" || name == "warning") *level = Level::kWarn;
  else if (name == "error") *level = Level::kError;
  else return false;
  return true;
}

bool ParseFormat(std::string_view name, Format* format) {
  if (name == "text") *format = Format::kText;
  else if (name == "json") *format = Format::kJson;
  else return false;
  return true;
}

void Configure(Level level, Format format) {
  g_level.store(static_cast<int>(level));
  g_format.store(format);
}

bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(); }

std::string FormatLine(Format format, Level level, std::string_view event, std::string_view msg,
                       Fields fields) {
  std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line;
  line.reserve(128);
  if (format == Format::kJson) {
    absl::StrAppend(&line, "{\"ts\":\"", ts, "\",\"level\":\"", LevelName(level, false),
                    "\",\"event\":");
    AppendJsonString(&line, event);
    line.append(",\"msg\":");
    AppendJsonString(&line, msg);
    for (const Field& f : fields) {
      line.push_back(',');
      AppendJsonString(&line, f.key);
      line.push_back(':');
      if (f.number) {
        line.append(f.value);
      } else {
        AppendJsonString(&line, f.value);
      }
    }
    line.append("}\n");
  } else {
    absl::StrAppend(&line, ts, " ", LevelName(level, true), " ");
    for (char c : msg) line.push_back(c == '\n' ? ' ' : c);
    for (const Field& f : fields) {
      line.push_back(' ');
      line.append(f.key);
      line.push_back('=');
      AppendTextValue(&line, f.value);
    }
    line.push_back('\n');
  }
  return line;
}

void Log(Level level, std::string_view event, std::string_view msg, Fields fields) {
  if (!Enabled(level)) return;
  std::string line = FormatLine(g_format.load(), level, event, msg, fields);
  // One write(2) per line keeps lines whole when several threads log.
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

}  // namespace reitunnel::log
