#include "cli/commands/util.h"

#include <charconv>
#include <ostream>

#include "cli/duration.h"
#include "cli/yaml_output.h"

namespace reitunnel::cli {

void AddListFlags(config::FlagSet& fs, bool labels) {
  if (labels) {
    fs.Repeated("label", "KEY=VALUE", "only agents with this label (all must match)");
  }
  fs.String("limit", "N", "print at most N items (default: all)");
  fs.String("page-size", "N",
            "items per call while following the pages\n(default and maximum 1000)");
}

namespace {

bool ParsePositive(const config::FlagSet& fs, const char* name, uint32_t* value) {
  if (!fs.IsSet(name)) return true;
  const std::string& text = fs.GetString(name);
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *value);
  return !text.empty() && ec == std::errc() && ptr == end && *value > 0;
}

}  // namespace

Outcome ParseLimit(const config::FlagSet& fs, uint32_t* limit, uint32_t* page_size) {
  *limit = 0;
  *page_size = kMaxPageSize;
  if (!ParsePositive(fs, "limit", limit)) return Outcome::Usage("--limit wants a positive number");
  if (!ParsePositive(fs, "page-size", page_size) || *page_size > kMaxPageSize) {
    return Outcome::Usage("--page-size wants a number from 1 to 1000");
  }
  return Outcome::Ok();
}

Outcome ParseLabels(const config::FlagSet& fs, std::string* selector) {
  std::string error;
  if (!BuildLabelSelector(fs.GetRepeated("label"), selector, &error)) {
    return Outcome::Usage(error);
  }
  return Outcome::Ok();
}

void PrintJson(Context& ctx, const google::protobuf::Message& msg) {
  ctx.out << ToJson(msg, JsonStyle::kPretty) << "\n";
}

bool PrintDocument(Context& ctx, const google::protobuf::Message& msg) {
  switch (ctx.globals.output) {
    case OutputFormat::kJson:
      PrintJson(ctx, msg);
      return true;
    case OutputFormat::kYaml:
      ctx.out << ToYaml(msg);
      return true;
    case OutputFormat::kTable:
    case OutputFormat::kWide:
      break;
  }
  return false;
}

Outcome ParseBanFlag(const config::FlagSet& fs, uint32_t* seconds) {
  *seconds = 0;
  if (!fs.IsSet("ban")) return Outcome::Ok();
  std::string error;
  if (!ParseBanSeconds("--ban", fs.GetString("ban"), seconds, &error)) return Outcome::Usage(error);
  return Outcome::Ok();
}

std::string Remaining(const google::protobuf::Timestamp& until, absl::Time now) {
  const absl::Duration left = ToAbslTime(until) - now;
  if (left <= absl::ZeroDuration()) return "expired";
  // Rounded up: a ban with 0.4 s left has not expired.
  return HumanDuration(absl::Ceil(left, absl::Seconds(1)));
}

std::string BytesDetail(uint64_t bytes) {
  return bytes < 1024 ? HumanBytes(bytes) : absl::StrCat(HumanBytes(bytes), " (", bytes, " B)");
}

}  // namespace reitunnel::cli
