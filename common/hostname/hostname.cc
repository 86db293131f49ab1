#include "common/hostname/hostname.h"

namespace reitunnel::hostname {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

char ToLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool IsCanonical(std::string_view name) {
  if (name.empty() || name.size() > kMaxLength) return false;
  size_t label_start = 0;
  bool last_label_all_digits = true;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      size_t len = i - label_start;
      if (len == 0 || len > kMaxLabelLength) return false;
      if (name[label_start] == '-' || name[i - 1] == '-') return false;
      label_start = i + 1;
      continue;
    }
    char c = name[i];
    if (i == label_start) last_label_all_digits = true;
    if (!IsLowerAlnum(c) && c != '-') return false;
    if (!IsDigit(c)) last_label_all_digits = false;
  }
  return !last_label_all_digits;
}

std::optional<std::string> Normalize(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > kMaxLength) return std::nullopt;
  std::string out(name);
  for (char& c : out) c = ToLowerAscii(c);
  if (!IsCanonical(out)) return std::nullopt;
  return out;
}

}  // namespace reitunnel::hostname
