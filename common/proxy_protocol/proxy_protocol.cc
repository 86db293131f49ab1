#include "common/proxy_protocol/proxy_protocol.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "asio/ip/address_v4.hpp"
#include "asio/ip/address_v6.hpp"

namespace reitunnel::proxy_protocol {
namespace {

using State = DecodeResult::State;

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr size_t kV2FixedLength = 16;

// Drops an IPv6 scope id (meaningless to the receiver) and turns IPv4-mapped
// IPv6 addresses into plain IPv4.
asio::ip::address Canonical(const asio::ip::address& a) {
  if (a.is_v4()) return a;
  asio::ip::address_v6 v6(a.to_v6().to_bytes());
  if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6);
  return v6;
}

// Both addresses of one family, as both header versions need.
std::pair<asio::ip::address, asio::ip::address> SameFamily(const asio::ip::address& a,
                                                           const asio::ip::address& b) {
  asio::ip::address x = Canonical(a);
  asio::ip::address y = Canonical(b);
  if (x.is_v4() != y.is_v4()) {
    if (x.is_v4()) x = asio::ip::make_address_v6(asio::ip::v4_mapped, x.to_v4());
    if (y.is_v4()) y = asio::ip::make_address_v6(asio::ip::v4_mapped, y.to_v4());
  }
  return {x, y};
}

void AppendU16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v & 0xff));
}

template <size_t N>
void AppendBytes(std::string* out, const std::array<unsigned char, N>& bytes) {
  out->append(reinterpret_cast<const char*>(bytes.data()), N);
}

uint16_t ReadU16(std::string_view s, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(s[at]) << 8 | static_cast<uint8_t>(s[at + 1]));
}

DecodeResult Error(std::string_view reason) {
  DecodeResult r;
  r.state = State::kError;
  r.error = reason;
  return r;
}

DecodeResult NeedMore() { return DecodeResult(); }

// A decimal port with no leading zeros (spec section 2.1).
bool ParsePort(std::string_view s, uint16_t* port) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return false;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

bool ParseV1Address(std::string_view s, bool v6, asio::ip::address* out) {
  // inet_pton (behind make_address_*) rejects IPv4 leading zeros; a '%'
  // scope id is valid for inet_pton's caller but not on the wire.
  if (s.empty() || s.size() > 45 || s.find('%') != std::string_view::npos) return false;
  std::error_code ec;
  std::string text(s);
  if (v6) {
    asio::ip::address_v6 a = asio::ip::make_address_v6(text, ec);
    if (ec) return false;
    *out = a;
  } else {
    asio::ip::address_v4 a = asio::ip::make_address_v4(text, ec);
    if (ec) return false;
    *out = a;
  }
  return true;
}

DecodeResult DecodeV1(std::string_view buffered) {
  size_t prefix = std::min(buffered.size(), kV1Prefix.size());
  if (buffered.substr(0, prefix) != kV1Prefix.substr(0, prefix)) {
    return Error("not a PROXY protocol header");
  }
  std::string_view window = buffered.substr(0, std::min(buffered.size(), kV1MaxLength));
  size_t lf = window.find('\n');
  if (lf == std::string_view::npos) {
    if (window.find('\r') != std::string_view::npos && window.find('\r') + 1 < window.size()) {
      return Error("v1 line has a CR without LF");
    }
    return window.size() >= kV1MaxLength ? Error("v1 line too long") : NeedMore();
  }
  if (lf == 0 || window[lf - 1] != '\r') return Error("v1 line must end in CRLF");
  if (lf < kV1Prefix.size() + 1) return Error("not a PROXY protocol header");
  std::string_view line = window.substr(kV1Prefix.size(), lf - 1 - kV1Prefix.size());
  // A CR anywhere else is refused whether or not the LF has arrived yet, so
  // the outcome does not depend on how the line was split into reads.
  if (line.find('\r') != std::string_view::npos) return Error("v1 line has a CR without LF");

  std::vector<std::string_view> fields;
  while (true) {
    size_t sp = line.find(' ');
    fields.push_back(line.substr(0, sp));
    if (sp == std::string_view::npos) break;
    line.remove_prefix(sp + 1);
  }
  DecodeResult r;
  r.header.version = Version::kV1;
  r.consumed = lf + 1;
  if (fields[0] == "UNKNOWN") {
    // The rest of the line, if any, must be ignored (spec section 2.1).
    r.state = State::kDone;
    r.header.transport = Transport::kUnspec;
    return r;
  }
  bool v6 = fields[0] == "TCP6";
  if (!v6 && fields[0] != "TCP4") return Error("v1 protocol must be TCP4, TCP6 or UNKNOWN");
  if (fields.size() != 5) return Error("v1 line must have four fields after the protocol");
  Endpoint src, dst;
  if (!ParseV1Address(fields[1], v6, &src.address) ||
      !ParseV1Address(fields[2], v6, &dst.address)) {
    return Error("v1 address malformed or of the wrong family");
  }
  if (!ParsePort(fields[3], &src.port) || !ParsePort(fields[4], &dst.port)) {
    return Error("v1 port malformed");
  }
  r.state = State::kDone;
  r.header.transport = Transport::kStream;
  r.header.source = src;
  r.header.destination = dst;
  return r;
}

DecodeResult DecodeV2(std::string_view buffered, const DecodeLimits& limits) {
  size_t prefix = std::min(buffered.size(), kV2Signature.size());
  if (buffered.substr(0, prefix) != kV2Signature.substr(0, prefix)) {
    return Error("not a PROXY protocol header");
  }
  if (buffered.size() < kV2FixedLength) return NeedMore();
  uint8_t ver_cmd = static_cast<uint8_t>(buffered[12]);
  uint8_t fam = static_cast<uint8_t>(buffered[13]);
  if ((ver_cmd >> 4) != 2) return Error("v2 version must be 2");
  uint8_t command = ver_cmd & 0x0f;
  if (command > 1) return Error("v2 command must be LOCAL or PROXY");
  uint8_t family = fam >> 4;
  uint8_t protocol = fam & 0x0f;
  if (family > 3 || protocol > 2) return Error("v2 address family or protocol unknown");
  size_t length = ReadU16(buffered, 14);
  if (kV2FixedLength + length > limits.max_v2_bytes) return Error("v2 header too large");
  if (buffered.size() < kV2FixedLength + length) return NeedMore();

  DecodeResult r;
  r.state = State::kDone;
  r.consumed = kV2FixedLength + length;
  r.header.version = Version::kV2;
  r.header.transport = protocol == 1   ? Transport::kStream
                       : protocol == 2 ? Transport::kDgram
                                       : Transport::kUnspec;
  if (command == 0) {
    // LOCAL: the receiver uses the real endpoints and must discard the
    // block, family included (spec section 2.2).
    r.header.command = Command::kLocal;
    return r;
  }
  r.header.command = Command::kProxy;
  std::string_view block = buffered.substr(kV2FixedLength, length);
  static constexpr size_t kAddressLength[] = {0, 12, 36, 216};
  size_t address_length = kAddressLength[family];
  if (block.size() < address_length) return Error("v2 address block too short");
  if (protocol != 0 && (family == 1 || family == 2)) {
    Endpoint src, dst;
    if (family == 1) {
      asio::ip::address_v4::bytes_type s, d;
      block.copy(reinterpret_cast<char*>(s.data()), 4, 0);
      block.copy(reinterpret_cast<char*>(d.data()), 4, 4);
      src.address = asio::ip::address_v4(s);
      dst.address = asio::ip::address_v4(d);
      src.port = ReadU16(block, 8);
      dst.port = ReadU16(block, 10);
    } else {
      asio::ip::address_v6::bytes_type s, d;
      block.copy(reinterpret_cast<char*>(s.data()), 16, 0);
      block.copy(reinterpret_cast<char*>(d.data()), 16, 16);
      src.address = asio::ip::address_v6(s);
      dst.address = asio::ip::address_v6(d);
      src.port = ReadU16(block, 32);
      dst.port = ReadU16(block, 34);
    }
    r.header.source = src;
    r.header.destination = dst;
  }
  std::string_view tlvs = block.substr(address_length);
  while (!tlvs.empty()) {
    if (tlvs.size() < 3) return Error("v2 TLV truncated");
    size_t len = ReadU16(tlvs, 1);
    if (tlvs.size() < 3 + len) return Error("v2 TLV overruns the header");
    r.header.tlvs.push_back(Tlv{static_cast<uint8_t>(tlvs[0]), std::string(tlvs.substr(3, len))});
    tlvs.remove_prefix(3 + len);
  }
  return r;
}

}  // namespace

std::string_view Header::authority() const {
  for (const Tlv& t : tlvs) {
    if (t.type == kTlvAuthority) return t.value;
  }
  return {};
}

std::string EncodeV1(const Endpoint& source, const Endpoint& destination) {
  auto [src, dst] = SameFamily(source.address, destination.address);
  std::string out = src.is_v4() ? "PROXY TCP4 " : "PROXY TCP6 ";
  out += src.to_string();
  out += ' ';
  out += dst.to_string();
  out += ' ';
  out += std::to_string(source.port);
  out += ' ';
  out += std::to_string(destination.port);
  out += "\r\n";
  return out;
}

std::string EncodeV1Unknown() { return "PROXY UNKNOWN\r\n"; }

absl::StatusOr<std::string> EncodeV2(const Header& header) {
  std::string body;
  uint8_t fam = 0x00;  // AF_UNSPEC, UNSPEC
  bool local = header.command == Command::kLocal;
  if (!local && header.source && header.destination && header.transport != Transport::kUnspec) {
    auto [src, dst] = SameFamily(header.source->address, header.destination->address);
    uint8_t protocol = header.transport == Transport::kStream ? 0x1 : 0x2;
    if (src.is_v4()) {
      fam = 0x10 | protocol;
      AppendBytes(&body, src.to_v4().to_bytes());
      AppendBytes(&body, dst.to_v4().to_bytes());
    } else {
      fam = 0x20 | protocol;
      AppendBytes(&body, src.to_v6().to_bytes());
      AppendBytes(&body, dst.to_v6().to_bytes());
    }
    AppendU16(&body, header.source->port);
    AppendU16(&body, header.destination->port);
  }
  for (const Tlv& t : header.tlvs) {
    if (t.value.size() > 0xffff) return absl::InvalidArgumentError("PROXY v2 TLV value too long");
    body.push_back(static_cast<char>(t.type));
    AppendU16(&body, static_cast<uint16_t>(t.value.size()));
    body += t.value;
  }
  if (body.size() > 0xffff) return absl::InvalidArgumentError("PROXY v2 header too long");
  std::string out(kV2Signature);
  out.push_back(static_cast<char>(local ? 0x20 : 0x21));
  out.push_back(static_cast<char>(fam));
  AppendU16(&out, static_cast<uint16_t>(body.size()));
  out += body;
  return out;
}

std::string EncodeForConnection(Version version, const Endpoint& visitor,
                                const Endpoint& public_endpoint, std::string_view authority) {
  if (version == Version::kV1) return EncodeV1(visitor, public_endpoint);
  Header h;
  h.source = visitor;
  h.destination = public_endpoint;
  // A host name is at most 253 bytes; anything longer is not one and is left out.
  if (!authority.empty() && authority.size() <= 255)
    h.tlvs.push_back(Tlv{kTlvAuthority, std::string(authority)});
  // Cannot fail: one TLV of at most 255 bytes.
  return *EncodeV2(h);
}

DecodeResult Decode(std::string_view buffered, DecodeLimits limits) {
  if (buffered.empty()) return NeedMore();
  if (buffered[0] == 'P') return DecodeV1(buffered);
  if (buffered[0] == '\r') return DecodeV2(buffered, limits);
  return Error("not a PROXY protocol header");
}

}  // namespace reitunnel::proxy_protocol
