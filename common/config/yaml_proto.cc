#include "common/config/yaml_proto.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "common/config/yaml_syntax.h"
#include "google/protobuf/stubs/common.h"
#include "yaml-cpp/yaml.h"

namespace reitunnel::config {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::OneofDescriptor;
using google::protobuf::Reflection;

bool IsUtf8(const std::string& s);

// Keys appear in error paths as typed, unless they hold control characters
// or bytes that are not UTF-8: those are escaped and quoted, so a key can
// never break the one-line message (or forge a log line) nor carry raw bytes.
std::string ShownKey(const std::string& key) {
  bool plain = IsUtf8(key);
  for (unsigned char c : key) plain = plain && c >= 0x20 && c != 0x7f;
  return plain ? key : absl::StrCat("\"", absl::CEscape(key), "\"");
}

std::string Child(const std::string& path, const std::string& key) {
  return path.empty() ? ShownKey(key) : absl::StrCat(path, ".", ShownKey(key));
}

absl::Status PathError(const std::string& path, std::string_view what) {
  return absl::InvalidArgumentError(path.empty() ? absl::StrCat("top level: ", std::string(what))
                                                 : absl::StrCat(path, ": ", std::string(what)));
}

std::string ExpectedWhat(const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return "expected a string";
    case FieldDescriptor::CPPTYPE_BOOL:
      return "expected true or false";
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
      return "expected an integer";
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      return "expected an unsigned integer";
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT:
      return "expected a number";
    case FieldDescriptor::CPPTYPE_ENUM: {
      std::vector<std::string> names;
      const auto* e = f->enum_type();
      for (int i = 0; i < e->value_count(); ++i) names.push_back(e->value(i)->name());
      return absl::StrCat("expected one of ", absl::StrJoin(names, ", "));
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return "expected a map";
  }
  return "unsupported field type";
}

// Parses a whole decimal integer. Distinguishes "not an integer" from "does
// not fit" so the message can say which.
enum class IntResult { kOk, kSyntax, kRange };

template <typename T>
IntResult ParseInteger(std::string_view text, T* out) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return IntResult::kSyntax;
  // from_chars would accept "-5" for signed types only; a leading '-' on an
  // unsigned field is a syntax problem, not an overflow.
  if (std::is_unsigned_v<T> && text.front() == '-') return IntResult::kSyntax;
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) return IntResult::kRange;
  if (ec != std::errc() || end != text.data() + text.size()) return IntResult::kSyntax;
  *out = value;
  return IntResult::kOk;
}

bool ParseBoolText(const std::string& text, bool* out) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true" || lower == "yes" || lower == "on") {
    *out = true;
    return true;
  }
  if (lower == "false" || lower == "no" || lower == "off") {
    *out = false;
    return true;
  }
  return false;
}

enum class DoubleResult { kOk, kSyntax, kRange };

DoubleResult ParseDoubleText(const std::string& text, double* out) {
  // YAML spells the special values its own way; from_chars knows C's.
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == ".inf" || lower == "+.inf") {
    *out = std::numeric_limits<double>::infinity();
    return DoubleResult::kOk;
  }
  if (lower == "-.inf") {
    *out = -std::numeric_limits<double>::infinity();
    return DoubleResult::kOk;
  }
  if (lower == ".nan") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return DoubleResult::kOk;
  }
  std::string_view view = text;
  if (!view.empty() && view.front() == '+') view.remove_prefix(1);
  if (view.empty()) return DoubleResult::kSyntax;
  double value = 0;
  auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), value);
  if (ec == std::errc::result_out_of_range) return DoubleResult::kRange;
  if (ec != std::errc() || end != view.data() + view.size()) return DoubleResult::kSyntax;
  *out = value;
  return DoubleResult::kOk;
}

// protobuf's own check, so that what loads here also serializes.
bool IsUtf8(const std::string& s) {
  return google::protobuf::internal::IsStructurallyValidUTF8(s.data(), static_cast<int>(s.size()));
}

class Converter {
 public:
  // Stores `node` into `field` of `msg` (appending when the field is
  // repeated). `node` is one value, never the whole sequence.
  absl::Status Store(const YAML::Node& node, Message* msg, const FieldDescriptor* f,
                     const std::string& path) {
    if (++values_ > kMaxYamlValues) {
      return PathError(path, absl::StrCat("more than ", kMaxYamlValues,
                                          " values (aliases count each time they are used)"));
    }
    const Reflection* r = msg->GetReflection();
    const bool rep = f->is_repeated();
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      Message* sub = rep ? r->AddMessage(msg, f) : r->MutableMessage(msg, f);
      return FillMessage(node, sub, path);
    }
    if (!node.IsScalar()) return PathError(path, ExpectedWhat(f));
    const std::string& text = node.Scalar();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        // proto3 strings are UTF-8: anything else fails to serialize (the
        // admin API, the agent's Hello) and cannot be shown back as YAML;
        // yaml-cpp passes bytes through unchecked.
        if (f->type() == FieldDescriptor::TYPE_STRING && !IsUtf8(text)) {
          return PathError(path, "not valid UTF-8 text");
        }
        rep ? r->AddString(msg, f, text) : r->SetString(msg, f, text);
        return absl::OkStatus();
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool v = false;
        if (!ParseBoolText(text, &v)) return PathError(path, ExpectedWhat(f));
        rep ? r->AddBool(msg, f, v) : r->SetBool(msg, f, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t v = 0;
        if (absl::Status s = CheckInt(ParseInteger(text, &v), f, path); !s.ok()) return s;
        rep ? r->AddInt32(msg, f, v) : r->SetInt32(msg, f, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t v = 0;
        if (absl::Status s = CheckInt(ParseInteger(text, &v), f, path); !s.ok()) return s;
        rep ? r->AddInt64(msg, f, v) : r->SetInt64(msg, f, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v = 0;
        if (absl::Status s = CheckInt(ParseInteger(text, &v), f, path); !s.ok()) return s;
        rep ? r->AddUInt32(msg, f, v) : r->SetUInt32(msg, f, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v = 0;
        if (absl::Status s = CheckInt(ParseInteger(text, &v), f, path); !s.ok()) return s;
        rep ? r->AddUInt64(msg, f, v) : r->SetUInt64(msg, f, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double v = 0;
        DoubleResult res = ParseDoubleText(text, &v);
        if (res == DoubleResult::kSyntax) return PathError(path, ExpectedWhat(f));
        const bool is_float = f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT;
        if (res == DoubleResult::kRange ||
            (is_float && std::isfinite(v) && std::fabs(v) > std::numeric_limits<float>::max())) {
          return PathError(path, "number out of range");
        }
        if (is_float) {
          rep ? r->AddFloat(msg, f, static_cast<float>(v))
              : r->SetFloat(msg, f, static_cast<float>(v));
        } else {
          rep ? r->AddDouble(msg, f, v) : r->SetDouble(msg, f, v);
        }
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const EnumValueDescriptor* ev = f->enum_type()->FindValueByName(text);
        if (ev == nullptr) return PathError(path, ExpectedWhat(f));
        rep ? r->AddEnumValue(msg, f, ev->number()) : r->SetEnumValue(msg, f, ev->number());
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        break;  // handled above
    }
    return PathError(path, "unsupported field type");
  }

  absl::Status FillMessage(const YAML::Node& node, Message* msg, const std::string& path) {
    if (node.IsNull()) return absl::OkStatus();
    if (!node.IsMap()) return PathError(path, "expected a map");
    const Descriptor* d = msg->GetDescriptor();
    std::set<std::string> seen;
    std::set<const OneofDescriptor*> oneofs_seen;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) return PathError(path, "keys must be plain strings");
      const std::string& key = kv.first.Scalar();
      const std::string sub = Child(path, key);
      const FieldDescriptor* f = d->FindFieldByName(key);
      if (f == nullptr) return PathError(sub, "unknown key");
      if (!seen.insert(key).second) return PathError(sub, "duplicate key");
      if (const OneofDescriptor* o = f->real_containing_oneof(); o != nullptr) {
        if (!oneofs_seen.insert(o).second) {
          return PathError(sub, absl::StrCat("only one field of ", o->name(), " may be set"));
        }
      }
      absl::Status s;
      if (f->is_map()) {
        s = FillMap(kv.second, msg, f, sub);
      } else if (f->is_repeated()) {
        s = FillRepeated(kv.second, msg, f, sub);
      } else if (!kv.second.IsNull()) {
        s = Store(kv.second, msg, f, sub);
      }
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  int values_ = 0;  // Store() calls so far, against kMaxYamlValues

  absl::Status CheckInt(IntResult res, const FieldDescriptor* f, const std::string& path) {
    switch (res) {
      case IntResult::kOk:
        return absl::OkStatus();
      case IntResult::kSyntax:
        return PathError(path, ExpectedWhat(f));
      case IntResult::kRange:
        break;
    }
    const char* range = "";
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        range = " (-2147483648 to 2147483647)";
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        range = " (0 to 4294967295)";
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        range = " (-9223372036854775808 to 9223372036854775807)";
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        range = " (0 to 18446744073709551615)";
        break;
      default:
        break;
    }
    return PathError(path, absl::StrCat("integer out of range", range));
  }

  absl::Status FillRepeated(const YAML::Node& node, Message* msg, const FieldDescriptor* f,
                            const std::string& path) {
    if (node.IsNull()) return absl::OkStatus();
    if (!node.IsSequence()) return PathError(path, "expected a list");
    for (std::size_t i = 0; i < node.size(); ++i) {
      absl::Status s = Store(node[i], msg, f, absl::StrCat(path, "[", i, "]"));
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status FillMap(const YAML::Node& node, Message* msg, const FieldDescriptor* f,
                       const std::string& path) {
    if (node.IsNull()) return absl::OkStatus();
    if (!node.IsMap()) return PathError(path, "expected a map");
    const Reflection* r = msg->GetReflection();
    const FieldDescriptor* key_field = f->message_type()->map_key();
    const FieldDescriptor* value_field = f->message_type()->map_value();
    std::set<std::string> seen;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) return PathError(path, "keys must be plain strings");
      const std::string& key = kv.first.Scalar();
      // Checked before the key becomes part of a path in a message.
      if (!IsUtf8(key)) return PathError(path, "a key is not valid UTF-8 text");
      const std::string sub = Child(path, key);
      if (!seen.insert(key).second) return PathError(sub, "duplicate key");
      Message* entry = r->AddMessage(msg, f);
      if (absl::Status s = Store(kv.first, entry, key_field, sub); !s.ok()) {
        // The key is at fault, not the value: say so.
        return PathError(sub, absl::StrCat("key: ", ExpectedWhat(key_field)));
      }
      if (absl::Status s = Store(kv.second, entry, value_field, sub); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
};

// `source` is the file name, or empty for in-memory text.
absl::Status Parse(std::string_view yaml, Message* msg, const std::string& source) {
  auto prefixed = [&source](const absl::Status& s) {
    if (s.ok() || source.empty()) return s;
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", std::string(s.message())));
  };
  // Also guarantees at most one document: YAML::Load reads only the first.
  if (absl::Status s = internal::CheckYamlSyntax(yaml, source); !s.ok()) return s;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return internal::YamlSyntaxError(source, e.mark, e.msg);
  }
  std::unique_ptr<Message> scratch(msg->New());
  if (!root.IsNull() && !root.IsMap()) {
    return prefixed(absl::InvalidArgumentError("expected a map of settings at the top level"));
  }
  try {
    if (absl::Status s = Converter().FillMessage(root, scratch.get(), ""); !s.ok()) {
      return prefixed(s);
    }
  } catch (const YAML::Exception& e) {
    // Not expected after a successful load; reported rather than thrown so
    // a config problem can never take the process down.
    return internal::YamlSyntaxError(source, YAML::Mark::null_mark(), e.msg);
  }
  msg->CopyFrom(*scratch);
  return absl::OkStatus();
}

}  // namespace

absl::Status YamlToProto(std::string_view yaml, google::protobuf::Message* msg) {
  return Parse(yaml, msg, "");
}

absl::Status LoadYamlFile(const std::string& path, google::protobuf::Message* msg) {
  return LoadYamlFile(path, msg, ReadConfigFile);
}

absl::Status LoadYamlFile(const std::string& path, google::protobuf::Message* msg,
                          ConfigFileReader read) {
  std::string text;
  if (absl::Status s = read(path, &text); !s.ok()) return s;
  return Parse(text, msg, path);
}

namespace {

void EmitScalar(YAML::Emitter& out, const google::protobuf::Message& m,
                const google::protobuf::FieldDescriptor* f, int index) {
  using FD = google::protobuf::FieldDescriptor;
  const auto* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FD::CPPTYPE_STRING:
      out << YAML::DoubleQuoted << (rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f));
      break;
    case FD::CPPTYPE_BOOL:
      out << ((rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false");
      break;
    case FD::CPPTYPE_INT32:
      out << (rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
      break;
    case FD::CPPTYPE_INT64:
      out << (rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
      break;
    case FD::CPPTYPE_UINT32:
      out << (rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
      break;
    case FD::CPPTYPE_UINT64:
      out << (rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
      break;
    case FD::CPPTYPE_DOUBLE:
      out << (rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
      break;
    case FD::CPPTYPE_FLOAT:
      out << (rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
      break;
    case FD::CPPTYPE_ENUM:
      out << (rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f))->name();
      break;
    case FD::CPPTYPE_MESSAGE:
      break;
  }
}

void EmitMessage(YAML::Emitter& out, const google::protobuf::Message& m) {
  const auto* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  out << YAML::BeginMap;
  for (const auto* f : fields) {
    out << YAML::Key << f->name() << YAML::Value;
    if (f->is_map()) {
      out << YAML::BeginMap;
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        const auto& entry = r->GetRepeatedMessage(m, f, i);
        const auto* d = entry.GetDescriptor();
        out << YAML::Key;
        EmitScalar(out, entry, d->FindFieldByNumber(1), 0);
        out << YAML::Value;
        EmitScalar(out, entry, d->FindFieldByNumber(2), 0);
      }
      out << YAML::EndMap;
    } else if (f->is_repeated()) {
      out << YAML::BeginSeq;
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
          EmitMessage(out, r->GetRepeatedMessage(m, f, i));
        } else {
          EmitScalar(out, m, f, i);
        }
      }
      out << YAML::EndSeq;
    } else if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      EmitMessage(out, r->GetMessage(m, f));
    } else {
      EmitScalar(out, m, f, 0);
    }
  }
  out << YAML::EndMap;
}

}  // namespace

std::string ProtoToYaml(const google::protobuf::Message& msg) {
  YAML::Emitter out;
  EmitMessage(out, msg);
  std::string text = out.c_str();
  if (text == "{}") return "";
  return text + "\n";
}

}  // namespace reitunnel::config
