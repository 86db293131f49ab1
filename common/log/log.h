#pragma once

// Leveled, structured, one-line-per-event logging to stderr.
//
// Text:  2026-11-25T19:33:00.123Z INFO tunnel open name=web remote_port=20080
// JSON:  {"ts":"...","level":"info","event":"tunnel_open","msg":"tunnel open",
//         "name":"web","remote_port":20080}
//
// `event` is a stable snake_case id that tests and log pipelines key on; `msg`
// is for humans. Callers must never pass secrets as field values.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace reitunnel::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

// Returns false for an unknown name.
bool ParseLevel(std::string_view name, Level* level);
bool ParseFormat(std::string_view name, Format* format);

void Configure(Level level, Format format);
bool Enabled(Level level);

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), number(true) {}
  Field(std::string_view k, int v) : key(k), value(std::to_string(v)), number(true) {}
  Field(std::string_view k, long v) : key(k), value(std::to_string(v)), number(true) {}
  Field(std::string_view k, long long v) : key(k), value(std::to_string(v)), number(true) {}
  Field(std::string_view k, unsigned v) : key(k), value(std::to_string(v)), number(true) {}
  Field(std::string_view k, unsigned long v) : key(k), value(std::to_string(v)), number(true) {}
  Field(std::string_view k, unsigned long long v)
      : key(k), value(std::to_string(v)), number(true) {}

  std::string_view key;
  std::string value;
  bool number = false;  // emitted unquoted in JSON
};

using Fields = std::initializer_list<Field>;

void Log(Level level, std::string_view event, std::string_view msg, Fields fields = {});

inline void Debug(std::string_view event, std::string_view msg, Fields f = {}) {
  if (Enabled(Level::kDebug)) Log(Level::kDebug, event, msg, f);
}
inline void Info(std::string_view event, std::string_view msg, Fields f = {}) {
  Log(Level::kInfo, event, msg, f);
}
inline void Warn(std::string_view event, std::string_view msg, Fields f = {}) {
  Log(Level::kWarn, event, msg, f);
}
inline void Error(std::string_view event, std::string_view msg, Fields f = {}) {
  Log(Level::kError, event, msg, f);
}

// Formats one line without writing it (exposed for tests).
std::string FormatLine(Format format, Level level, std::string_view event, std::string_view msg,
                       Fields fields);

}  // namespace reitunnel::log
