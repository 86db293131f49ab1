#pragma once

// The PROXY protocol (haproxy's doc/proxy-protocol.txt), versions 1 (text)
// and 2 (binary): a header a proxy puts in front of a relayed connection's
// bytes so the receiving service learns the original client address.
// Reitunnel encodes it towards a tunnel's local service (tunnel option
// proxy_protocol=v1|v2); the decoder serves tests and a server that sits
// behind an L4 load balancer speaking it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "asio/ip/address.hpp"

namespace reitunnel::proxy_protocol {

enum class Version { kV1 = 1, kV2 = 2 };
enum class Command { kLocal, kProxy };  // v2; v1 is always PROXY
enum class Transport { kUnspec, kStream, kDgram };

inline constexpr uint8_t kTlvAlpn = 0x01;
inline constexpr uint8_t kTlvAuthority = 0x02;
inline constexpr uint8_t kTlvCrc32c = 0x03;
inline constexpr uint8_t kTlvNoop = 0x04;
inline constexpr uint8_t kTlvUniqueId = 0x05;

// The 12-byte v2 signature.
inline constexpr std::string_view kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);
// Longest v1 line including CRLF (spec section 2.1).
inline constexpr size_t kV1MaxLength = 107;

struct Endpoint {
  asio::ip::address address;
  uint16_t port = 0;
};

struct Tlv {
  uint8_t type = 0;
  std::string value;
};

struct Header {
  Version version = Version::kV2;
  Command command = Command::kProxy;
  Transport transport = Transport::kStream;
  // Both set, or neither (v1 UNKNOWN, v2 LOCAL / AF_UNSPEC / AF_UNIX):
  // then the receiver uses the connection's real endpoints.
  std::optional<Endpoint> source;
  std::optional<Endpoint> destination;
  std::vector<Tlv> tlvs;  // v2 only, in wire order

  // The PP2_TYPE_AUTHORITY value (the host name the client asked for), or "".
  std::string_view authority() const;
};

// "PROXY TCP4|TCP6 src dst sport dport\r\n". IPv4-mapped IPv6 addresses are
// sent as IPv4; if the two families still differ the IPv4 one is mapped to
// IPv6, since a v1 line has one family.
std::string EncodeV1(const Endpoint& source, const Endpoint& destination);
// "PROXY UNKNOWN\r\n".
std::string EncodeV1Unknown();

// A v2 header for `header` (version is ignored). Families are normalized as
// for v1; Transport::kUnspec or absent endpoints give AF_UNSPEC. Fails only
// when the TLVs do not fit the 16-bit length.
absl::StatusOr<std::string> EncodeV2(const Header& header);

// What a tunnel sends to its local service before the visitor's bytes:
// visitor -> the public endpoint the visitor connected to, over TCP. With v2
// a non-empty `authority` (the routed hostname) goes in PP2_TYPE_AUTHORITY.
std::string EncodeForConnection(Version version, const Endpoint& visitor,
                                const Endpoint& public_endpoint, std::string_view authority = {});

struct DecodeLimits {
  size_t max_v2_bytes = 4096;  // whole v2 header, TLVs included
};

struct DecodeResult {
  enum class State { kNeedMore, kDone, kError };
  State state = State::kNeedMore;
  size_t consumed = 0;     // kDone: header length; the payload follows it
  Header header;           // kDone
  std::string_view error;  // kError: fixed, log-safe reason
};

// Decodes the header at the start of `buffered` (all bytes received so far;
// call again with more on kNeedMore). Strict: a v1 line must match the spec
// exactly (single spaces, no leading zeros, CRLF within 107 bytes); anything
// that is neither version is an error, as the spec requires of a receiver
// configured for the protocol. A CRC32C TLV is kept but not verified.
DecodeResult Decode(std::string_view buffered, DecodeLimits limits = {});

}  // namespace reitunnel::proxy_protocol
