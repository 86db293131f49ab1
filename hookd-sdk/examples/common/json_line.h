#pragma once

// One-line JSON output for the example hook services: they log one object per
// line on stdout so a pipeline (or a test) can read them with a JSON parser.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace reitunnel::hookd::examples {

inline std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// Builds {"k":v,...} field by field.
class JsonLine {
 public:
  JsonLine& Str(std::string_view key, std::string_view value) { return Raw(key, JsonQuote(value)); }
  JsonLine& Num(std::string_view key, uint64_t value) { return Raw(key, std::to_string(value)); }
  // `json` must already be valid JSON.
  JsonLine& Raw(std::string_view key, std::string_view json) {
    out_ += out_.size() == 1 ? "" : ",";
    out_ += JsonQuote(key);
    out_ += ':';
    out_ += json;
    return *this;
  }
  // Appends the members of `object_json`, a valid JSON object "{...}".
  JsonLine& Merge(std::string_view object_json) {
    if (object_json.size() <= 2) return *this;
    out_ += out_.size() == 1 ? "" : ",";
    out_ += object_json.substr(1, object_json.size() - 2);
    return *this;
  }
  // Writes the line to stdout and flushes, so lines reach a pipe at once.
  // One fputs per line: stdio locks the stream per call, so lines from
  // concurrent hook threads never interleave.
  void Emit() {
    std::fputs((out_ + "}\n").c_str(), stdout);
    std::fflush(stdout);
  }

 private:
  std::string out_ = "{";
};

}  // namespace reitunnel::hookd::examples
