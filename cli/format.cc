#include "cli/format.h"

#include <algorithm>
#include <cassert>
#include <cinttypes>
#include <cstdio>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace reitunnel::cli {
namespace {

constexpr const char* kColumnGap = "   ";
constexpr const char* kTypeUrlPrefix = "type.googleapis.com";

// Code points, not bytes, so labels and reasons in UTF-8 stay aligned.
std::size_t DisplayWidth(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

void AppendPadded(std::string* out, const std::string& cell, std::size_t width) {
  out->append(cell);
  const std::size_t w = DisplayWidth(cell);
  if (w < width) out->append(width - w, ' ');
}

void TrimTrailingSpaces(std::string* line) {
  while (!line->empty() && line->back() == ' ') line->pop_back();
}

}  // namespace

std::string HumanBytes(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  // Round first, so 1048575 B reads "1.0 MiB" and never "1024.0 KiB".
  while (unit + 1 < std::size(kUnits) && value * 10.0 + 0.5 >= 1024.0 * 10.0) {
    value /= 1024.0;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

std::string HumanDuration(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  const int64_t total = absl::ToInt64Seconds(d);
  const int64_t days = total / 86400;
  const int64_t hours = (total % 86400) / 3600;
  const int64_t minutes = (total % 3600) / 60;
  const int64_t seconds = total % 60;
  if (days > 0) return hours > 0 ? absl::StrCat(days, "d", hours, "h") : absl::StrCat(days, "d");
  if (hours > 0) {
    return minutes > 0 ? absl::StrCat(hours, "h", minutes, "m") : absl::StrCat(hours, "h");
  }
  if (minutes > 0) {
    return seconds > 0 ? absl::StrCat(minutes, "m", seconds, "s") : absl::StrCat(minutes, "m");
  }
  return absl::StrCat(seconds, "s");
}

absl::Time ToAbslTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

std::string Age(const google::protobuf::Timestamp& ts, absl::Time now) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  return HumanDuration(now - ToAbslTime(ts));
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", ToAbslTime(ts), absl::UTCTimeZone());
}

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::AddRow(std::vector<std::string> cells) {
  assert(cells.size() <= headers_.size());
  cells.resize(headers_.size());
  for (std::string& c : cells) {
    // push_back, not `= "-"`: GCC 12 -O2 reports a false -Wrestrict (PR 105651).
    if (c.empty()) c.push_back('-');
  }
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<std::size_t> widths(headers_.size(), 0);
  for (std::size_t i = 0; i < headers_.size(); ++i) widths[i] = DisplayWidth(headers_[i]);
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  std::string out;
  auto render_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line.append(kColumnGap);
      AppendPadded(&line, row[i], widths[i]);
    }
    TrimTrailingSpaces(&line);
    absl::StrAppend(&out, line, "\n");
  };
  render_row(headers_);
  for (const auto& row : rows_) render_row(row);
  return out;
}

std::string KeyValues(const std::vector<std::pair<std::string, std::string>>& kvs) {
  std::size_t width = 0;
  for (const auto& [k, v] : kvs) width = std::max(width, DisplayWidth(k) + 1);
  std::string out;
  for (const auto& [k, v] : kvs) {
    std::string line;
    AppendPadded(&line, absl::StrCat(k, ":"), width + 2);
    line.append(v.empty() ? "-" : v);
    TrimTrailingSpaces(&line);
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string FormatLabels(const std::vector<std::pair<std::string, std::string>>& labels) {
  if (labels.empty()) return "-";
  auto sorted = labels;
  std::sort(sorted.begin(), sorted.end());
  return absl::StrJoin(sorted, ",", absl::PairFormatter("="));
}

std::string ToJson(const google::protobuf::Message& msg, JsonStyle style) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = style == JsonStyle::kPretty;
  opts.always_print_primitive_fields = true;
  opts.preserve_proto_field_names = true;
  // MessageToJsonString goes through the binary form, and plain
  // serialization leaves map entries in hash order; deterministic
  // serialization sorts them by key, so the same state prints the same text.
  std::string binary;
  {
    google::protobuf::io::StringOutputStream stream(&binary);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    msg.SerializeToCodedStream(&coded);
  }
  const google::protobuf::DescriptorPool* pool = msg.GetDescriptor()->file()->pool();
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver(
      google::protobuf::util::NewTypeResolverForDescriptorPool(kTypeUrlPrefix, pool));
  std::string out;
  // Cannot fail for a valid in-memory message (no Any fields here).
  auto status = google::protobuf::util::BinaryToJsonString(
      resolver.get(), absl::StrCat(kTypeUrlPrefix, "/", msg.GetDescriptor()->full_name()), binary,
      &out, opts);
  if (!status.ok()) return "{}";
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

bool BuildLabelSelector(const std::vector<std::string>& labels, std::string* selector,
                        std::string* error) {
  std::vector<std::string> items;
  for (const std::string& flag : labels) {
    for (absl::string_view item : absl::StrSplit(flag, ',')) {
      const std::string trimmed(absl::StripAsciiWhitespace(item));
      const std::size_t eq = trimmed.find('=');
      if (eq == std::string::npos || eq == 0) {
        *error = absl::StrCat("--label wants KEY=VALUE, got \"", trimmed, "\"");
        return false;
      }
      items.push_back(trimmed);
    }
  }
  *selector = absl::StrJoin(items, ",");
  return true;
}

}  // namespace reitunnel::cli
