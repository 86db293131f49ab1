#include "cli/yaml_output.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "yaml-cpp/yaml.h"

namespace reitunnel::cli {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Scalars YAML 1.1 readers (PyYAML, yq, Go's yaml.v2) resolve to booleans
// or null; compared lower-cased, which only quotes a few more spellings.
constexpr std::string_view kReserved[] = {"y",  "n",     "yes",  "no", "on", "off",
                                          "true", "false", "null", "~",  "<<", "="};

// Shortest text that reads back as the same double.
template <typename Float>
std::string FloatText(Float v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "0";
  std::string s(buf, end);
  // "1e+20" and "5" are YAML floats/ints either way; keep integers integral.
  return s;
}

void EmitString(YAML::Emitter& out, const std::string& s) {
  // Multi-line text (the effective configuration) reads best as a literal
  // block; clip chomping gives back exactly one final newline, so only text
  // ending in one newline and without leading blanks on its first line fits.
  const bool literal = s.size() > 1 && s.back() == '\n' && s[s.size() - 2] != '\n' &&
                       s.front() != ' ' && s.find_first_of("\r\t") == std::string::npos;
  if (literal) {
    out << YAML::Literal << s;
  } else if (YamlNeedsQuotes(s)) {
    out << YAML::DoubleQuoted << s;
  } else {
    out << s;
  }
}

void EmitMessage(YAML::Emitter& out, const Message& msg);

// One value of `field` (`index` < 0: the singular value).
void EmitValue(YAML::Emitter& out, const Message& msg, const FieldDescriptor* field, int index) {
  const Reflection* r = msg.GetReflection();
  const bool rep = index >= 0;
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      out << absl::StrCat(rep ? r->GetRepeatedInt32(msg, field, index) : r->GetInt32(msg, field));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      out << absl::StrCat(rep ? r->GetRepeatedInt64(msg, field, index) : r->GetInt64(msg, field));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      out << absl::StrCat(rep ? r->GetRepeatedUInt32(msg, field, index)
                              : r->GetUInt32(msg, field));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      out << absl::StrCat(rep ? r->GetRepeatedUInt64(msg, field, index)
                              : r->GetUInt64(msg, field));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      out << FloatText(rep ? r->GetRepeatedDouble(msg, field, index) : r->GetDouble(msg, field));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      out << FloatText(rep ? r->GetRepeatedFloat(msg, field, index) : r->GetFloat(msg, field));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      out << ((rep ? r->GetRepeatedBool(msg, field, index) : r->GetBool(msg, field)) ? "true"
                                                                                      : "false");
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* value = rep ? r->GetRepeatedEnum(msg, field, index) : r->GetEnum(msg, field);
      EmitString(out, value->name());
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string s = rep ? r->GetRepeatedString(msg, field, index) : r->GetString(msg, field);
      if (field->type() == FieldDescriptor::TYPE_BYTES) s = absl::Base64Escape(s);
      EmitString(out, s);
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      EmitMessage(out, rep ? r->GetRepeatedMessage(msg, field, index) : r->GetMessage(msg, field));
      break;
  }
}

std::string MapKey(const Message& entry) {
  const FieldDescriptor* key = entry.GetDescriptor()->map_key();
  const Reflection* r = entry.GetReflection();
  switch (key->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return r->GetString(entry, key);
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(r->GetInt32(entry, key));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(r->GetInt64(entry, key));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(r->GetUInt32(entry, key));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(r->GetUInt64(entry, key));
    case FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(entry, key) ? "true" : "false";
    default:
      return "";
  }
}

void EmitMap(YAML::Emitter& out, const Message& msg, const FieldDescriptor* field) {
  const Reflection* r = msg.GetReflection();
  const int n = r->FieldSize(msg, field);
  if (n == 0) {
    out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
    return;
  }
  // Sorted by key, as the JSON output (deterministic serialization) is.
  std::vector<std::pair<std::string, const Message*>> entries;
  for (int i = 0; i < n; ++i) {
    const Message& entry = r->GetRepeatedMessage(msg, field, i);
    entries.emplace_back(MapKey(entry), &entry);
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  const FieldDescriptor* value = field->message_type()->map_value();
  out << YAML::BeginMap;
  for (const auto& [key, entry] : entries) {
    out << YAML::Key;
    EmitString(out, key);
    out << YAML::Value;
    EmitValue(out, *entry, value, -1);
  }
  out << YAML::EndMap;
}

bool EmitWellKnown(YAML::Emitter& out, const Message& msg) {
  const std::string& name = msg.GetDescriptor()->full_name();
  using google::protobuf::util::TimeUtil;
  if (name == "google.protobuf.Timestamp") {
    google::protobuf::Timestamp ts;
    ts.CopyFrom(msg);
    EmitString(out, TimeUtil::ToString(ts));
    return true;
  }
  if (name == "google.protobuf.Duration") {
    google::protobuf::Duration d;
    d.CopyFrom(msg);
    EmitString(out, TimeUtil::ToString(d));
    return true;
  }
  return false;
}

void EmitMessage(YAML::Emitter& out, const Message& msg) {
  if (EmitWellKnown(out, msg)) return;
  const Descriptor* d = msg.GetDescriptor();
  const Reflection* r = msg.GetReflection();
  // Field-number order, as the JSON printer uses.
  std::vector<const FieldDescriptor*> fields;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    // Like JSON with always_print_primitive_fields: unset messages and
    // unset oneof members are left out, everything else is shown.
    if (!f->is_repeated() && (f->containing_oneof() != nullptr ||
                              f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE ||
                              f->has_presence()) &&
        !r->HasField(msg, f)) {
      continue;
    }
    fields.push_back(f);
  }
  std::sort(fields.begin(), fields.end(),
            [](const FieldDescriptor* a, const FieldDescriptor* b) { return a->number() < b->number(); });
  if (fields.empty()) {
    out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
    return;
  }
  out << YAML::BeginMap;
  for (const FieldDescriptor* f : fields) {
    out << YAML::Key << f->name() << YAML::Value;
    if (f->is_map()) {
      EmitMap(out, msg, f);
    } else if (f->is_repeated()) {
      const int n = r->FieldSize(msg, f);
      if (n == 0) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        continue;
      }
      out << YAML::BeginSeq;
      for (int i = 0; i < n; ++i) EmitValue(out, msg, f, i);
      out << YAML::EndSeq;
    } else {
      EmitValue(out, msg, f, -1);
    }
  }
  out << YAML::EndMap;
}

}  // namespace

bool YamlNeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  if (absl::ascii_isspace(static_cast<unsigned char>(s.front())) ||
      absl::ascii_isspace(static_cast<unsigned char>(s.back()))) {
    return true;
  }
  const std::string lower = absl::AsciiStrToLower(s);
  for (std::string_view word : kReserved) {
    if (lower == word) return true;
  }
  // Anything that starts like a number (ints, floats, hex, octal, YAML 1.1
  // sexagesimal "1:30", ".5", "-.inf", ".nan"): ids and addresses included.
  const unsigned char c0 = static_cast<unsigned char>(s[0]);
  if (absl::ascii_isdigit(c0)) return true;
  if (c0 == '+' || c0 == '-' || c0 == '.') {
    if (s.size() == 1) return false;
    const unsigned char c1 = static_cast<unsigned char>(s[1]);
    if (absl::ascii_isdigit(c1) || c1 == '.') return true;
    const std::string rest = lower.substr(c0 == '.' ? 0 : 1);
    if (rest == ".inf" || rest == ".nan") return true;
  }
  return false;
}

std::string ToYaml(const Message& msg) {
  YAML::Emitter out;
  out.SetIndent(2);
  EmitMessage(out, msg);
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text.push_back('\n');
  return text;
}

}  // namespace reitunnel::cli
