#include "common/tls_sniff/client_hello_reader.h"

#include <algorithm>

#include "common/hostname/hostname.h"

namespace reitunnel::tls_sniff {
namespace {

constexpr uint8_t kContentTypeHandshake = 22;
constexpr uint8_t kHandshakeClientHello = 1;
constexpr size_t kMaxRecordPayload = 16384;  // 2^14, RFC 8446 section 5.1
constexpr size_t kHandshakeHeader = 4;

constexpr uint16_t kExtServerName = 0;
constexpr uint16_t kExtAlpn = 16;
constexpr uint16_t kExtSupportedVersions = 43;
constexpr uint8_t kNameTypeHostName = 0;

// A bounds-checked reader over a byte string: every Read fails instead of
// running past the end.
class Cursor {
 public:
  explicit Cursor(std::string_view data) : data_(data) {}
  bool empty() const { return data_.empty(); }
  size_t size() const { return data_.size(); }

  bool U8(uint8_t* v) {
    if (data_.size() < 1) return false;
    *v = static_cast<uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }
  bool U16(uint16_t* v) {
    if (data_.size() < 2) return false;
    *v =
        static_cast<uint16_t>(static_cast<uint8_t>(data_[0]) << 8 | static_cast<uint8_t>(data_[1]));
    data_.remove_prefix(2);
    return true;
  }
  bool Bytes(size_t n, std::string_view* out) {
    if (data_.size() < n) return false;
    *out = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }
  // A vector with a one- or two-byte length prefix.
  bool Vec8(std::string_view* out) {
    uint8_t n;
    return U8(&n) && Bytes(n, out);
  }
  bool Vec16(std::string_view* out) {
    uint16_t n;
    return U16(&n) && Bytes(n, out);
  }

 private:
  std::string_view data_;
};

// The 24-bit length in a handshake message header (type(1) length(3)).
size_t DeclaredLength(std::string_view header) {
  return (static_cast<size_t>(static_cast<uint8_t>(header[1])) << 16) |
         (static_cast<size_t>(static_cast<uint8_t>(header[2])) << 8) |
         static_cast<uint8_t>(header[3]);
}

bool Fail(std::string_view reason, std::string_view* error) {
  *error = reason;
  return false;
}

bool ParseServerName(std::string_view data, ClientHelloInfo* info, std::string_view* error) {
  Cursor ext(data);
  std::string_view list;
  if (!ext.Vec16(&list) || !ext.empty() || list.empty()) {
    return Fail("malformed server_name extension", error);
  }
  Cursor names(list);
  while (!names.empty()) {
    uint8_t type;
    std::string_view name;
    if (!names.U8(&type) || !names.Vec16(&name) || name.empty()) {
      return Fail("malformed server_name extension", error);
    }
    if (type != kNameTypeHostName) continue;  // RFC 6066: skip unknown types
    if (info->server_name.has_value()) return Fail("two host_name entries in server_name", error);
    std::optional<std::string> canonical = hostname::Normalize(name);
    if (!canonical) return Fail("server_name is not a valid host name", error);
    info->server_name = std::move(*canonical);
  }
  return true;
}

bool ParseAlpn(std::string_view data, ClientHelloInfo* info, std::string_view* error) {
  Cursor ext(data);
  std::string_view list;
  if (!ext.Vec16(&list) || !ext.empty() || list.empty())
    return Fail("malformed ALPN extension", error);
  Cursor protocols(list);
  while (!protocols.empty()) {
    std::string_view protocol;
    if (!protocols.Vec8(&protocol) || protocol.empty())
      return Fail("malformed ALPN extension", error);
    info->alpn.emplace_back(protocol);
  }
  return true;
}

bool ParseSupportedVersions(std::string_view data, ClientHelloInfo* info, std::string_view* error) {
  Cursor ext(data);
  std::string_view list;
  if (!ext.Vec8(&list) || !ext.empty() || list.empty() || list.size() % 2 != 0) {
    return Fail("malformed supported_versions extension", error);
  }
  Cursor versions(list);
  uint16_t v;
  while (versions.U16(&v)) {
    if (v == 0x0304) info->offers_tls13 = true;
  }
  return true;
}

}  // namespace

bool ParseClientHello(std::string_view body, ClientHelloInfo* info, std::string_view* error) {
  *info = ClientHelloInfo();
  Cursor c(body);
  std::string_view random, session_id, cipher_suites, compression;
  if (!c.U16(&info->legacy_version) || !c.Bytes(32, &random))
    return Fail("truncated ClientHello", error);
  if (!c.Vec8(&session_id) || session_id.size() > 32) return Fail("malformed session id", error);
  if (!c.Vec16(&cipher_suites) || cipher_suites.empty() || cipher_suites.size() % 2 != 0) {
    return Fail("malformed cipher suites", error);
  }
  if (!c.Vec8(&compression) || compression.empty())
    return Fail("malformed compression methods", error);
  if (c.empty()) return true;  // no extensions (SSLv3-era clients): no SNI

  std::string_view extensions;
  if (!c.Vec16(&extensions) || !c.empty()) return Fail("malformed extensions block", error);
  Cursor ext(extensions);
  std::vector<uint16_t> seen;
  while (!ext.empty()) {
    uint16_t type;
    std::string_view data;
    if (!ext.U16(&type) || !ext.Vec16(&data)) return Fail("malformed extension", error);
    seen.push_back(type);
    bool ok = true;
    switch (type) {
      case kExtServerName:
        ok = ParseServerName(data, info, error);
        break;
      case kExtAlpn:
        ok = ParseAlpn(data, info, error);
        break;
      case kExtSupportedVersions:
        ok = ParseSupportedVersions(data, info, error);
        break;
      default:
        break;
    }
    if (!ok) return false;
  }
  // RFC 8446 section 4.2: at most one extension of each type. Sorting keeps
  // this O(n log n) for hostile hellos made of thousands of empty extensions.
  std::sort(seen.begin(), seen.end());
  if (std::adjacent_find(seen.begin(), seen.end()) != seen.end()) {
    return Fail("duplicate extension", error);
  }
  return true;
}

ClientHelloReader::ClientHelloReader(SniffLimits limits) : limits_(limits) {}

ClientHelloReader::Result ClientHelloReader::Stop(State state, std::string_view reason,
                                                  size_t consumed) {
  state_ = state;
  reason_ = reason;
  return {state_, state == State::kDone ? consumed : 0};
}

ClientHelloReader::Result ClientHelloReader::Feed(std::string_view bytes) {
  if (state_ != State::kNeedMore) return {state_, 0};
  size_t i = 0;
  while (i < bytes.size()) {
    if (record_remaining_ == 0) {
      // Record header: type(1) version(2) length(2).
      uint8_t b = static_cast<uint8_t>(bytes[i++]);
      record_header_[record_header_len_++] = b;
      const bool first = records_ == 0;
      if (record_header_len_ == 1 && b != kContentTypeHandshake) {
        if (first) {
          return Stop(State::kNotTls,
                      (b & 0x80) ? "SSLv2-format hello (no SNI)" : "not a TLS handshake", i);
        }
        return Stop(State::kError, "non-handshake record inside the ClientHello", i);
      }
      if (record_header_len_ == 2 && b != 3) {
        return first ? Stop(State::kNotTls, "not a TLS handshake", i)
                     : Stop(State::kError, "bad record version", i);
      }
      if (record_header_len_ < 5) continue;
      record_header_len_ = 0;
      size_t length = static_cast<size_t>(record_header_[3]) << 8 | record_header_[4];
      if (length == 0) return Stop(State::kError, "empty handshake record", i);
      if (length > kMaxRecordPayload) return Stop(State::kError, "record too long", i);
      if (++records_ > limits_.max_records)
        return Stop(State::kError, "ClientHello in too many records", i);
      record_remaining_ = length;
      continue;
    }

    // Record payload: handshake bytes. Take only what the ClientHello
    // message still needs; its header says how long it is.
    const size_t before = handshake_.size();
    const size_t want = before < kHandshakeHeader
                            ? kHandshakeHeader - before
                            : kHandshakeHeader + DeclaredLength(handshake_) - before;
    const size_t n = std::min({want, record_remaining_, bytes.size() - i});
    handshake_.append(bytes.data() + i, n);
    i += n;
    record_remaining_ -= n;

    if (before == 0 && static_cast<uint8_t>(handshake_[0]) != kHandshakeClientHello) {
      return Stop(State::kError, "first handshake message is not a ClientHello", i);
    }
    if (handshake_.size() < kHandshakeHeader) continue;
    const size_t declared = DeclaredLength(handshake_);
    if (before < kHandshakeHeader && kHandshakeHeader + declared > limits_.max_handshake_bytes) {
      return Stop(State::kError, "ClientHello too large", i);
    }
    if (handshake_.size() - kHandshakeHeader < declared) continue;

    std::string_view error;
    if (!ParseClientHello(std::string_view(handshake_).substr(kHandshakeHeader), &info_, &error)) {
      return Stop(State::kError, error, i);
    }
    std::string().swap(handshake_);
    return Stop(State::kDone, {}, i);
  }
  return {state_, i};
}

}  // namespace reitunnel::tls_sniff
