#pragma once

// Output formatting for reitunnelctl: human units, aligned tables, key/value
// blocks and the stable JSON rendering of admin API messages.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"

namespace reitunnel::cli {

// Binary units with one decimal: "0 B", "1023 B", "1.0 KiB", "1.2 MiB".
std::string HumanBytes(uint64_t bytes);

// Compact durations as kubectl prints ages: "0s", "45s", "3m12s", "5h7m",
// "3d4h".
std::string HumanDuration(absl::Duration d);

// The age of `ts` at `now` ("-" for an unset timestamp; "0s" if in the
// future, clocks being what they are).
std::string Age(const google::protobuf::Timestamp& ts, absl::Time now);

// RFC 3339 UTC with seconds, "2026-11-25T19:33:00Z" ("-" when unset).
std::string FormatTimestamp(const google::protobuf::Timestamp& ts);

absl::Time ToAbslTime(const google::protobuf::Timestamp& ts);

// Columns left-aligned, separated by three spaces, no trailing whitespace.
// Width counts UTF-8 code points. Empty cells print as "-".
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  // Missing cells are empty; extra cells are an error caught by assert.
  void AddRow(std::vector<std::string> cells);
  std::string Render() const;
  std::size_t rows() const { return rows_.size(); }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "key:   value" lines with the values aligned.
std::string KeyValues(const std::vector<std::pair<std::string, std::string>>& kvs);

// "k=v,k2=v2" sorted by key ("-" when empty), for table cells.
std::string FormatLabels(const std::vector<std::pair<std::string, std::string>>& labels);

enum class JsonStyle { kPretty, kCompact };

// Protobuf's canonical JSON mapping with proto field names and every
// primitive field present (so scripts never miss a zero). Pretty output is
// one document; compact output is one line. No trailing newline.
std::string ToJson(const google::protobuf::Message& msg, JsonStyle style);

// Joins label flags ("k=v", each possibly "k=v,k2=v2") into the admin API's
// label_selector. Fails (usage error) on a malformed item.
bool BuildLabelSelector(const std::vector<std::string>& labels, std::string* selector,
                        std::string* error);

}  // namespace reitunnel::cli
