#include "common/proxy_protocol/proxy_protocol.h"

#include <string>

#include "gtest/gtest.h"

namespace reitunnel::proxy_protocol {
namespace {

using State = DecodeResult::State;

Endpoint Ep(const char* ip, uint16_t port) { return Endpoint{asio::ip::make_address(ip), port}; }

std::string Hex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Decodes `header` + `payload`, checking that every proper prefix of the
// header asks for more first.
DecodeResult DecodeIncrementally(const std::string& header, const std::string& payload = "") {
  for (size_t len = 0; len < header.size(); ++len) {
    DecodeResult partial = Decode(std::string_view(header).substr(0, len));
    EXPECT_EQ(partial.state, State::kNeedMore) << "prefix " << len << ": " << partial.error;
  }
  return Decode(header + payload);
}

TEST(ProxyProtocolV1Test, SpecExampleIsByteExact) {
  // proxy-protocol.txt section 2.1, the example before an HTTP request.
  const std::string want = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
  EXPECT_EQ(EncodeV1(Ep("192.168.0.1", 56324), Ep("192.168.0.11", 443)), want);
  DecodeResult r = DecodeIncrementally(want, "GET / HTTP/1.1\r\n");
  ASSERT_EQ(r.state, State::kDone) << r.error;
  EXPECT_EQ(r.consumed, want.size());
  EXPECT_EQ(r.header.version, Version::kV1);
  EXPECT_EQ(r.header.transport, Transport::kStream);
  EXPECT_EQ(r.header.source->address.to_string(), "192.168.0.1");
  EXPECT_EQ(r.header.source->port, 56324);
  EXPECT_EQ(r.header.destination->address.to_string(), "192.168.0.11");
  EXPECT_EQ(r.header.destination->port, 443);
}

TEST(ProxyProtocolV1Test, SpecMaximumLengths) {
  std::string v4 = EncodeV1(Ep("255.255.255.255", 65535), Ep("255.255.255.255", 65535));
  EXPECT_EQ(v4, "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n");
  EXPECT_EQ(v4.size(), 56u);
  const char* ffff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  std::string v6 = EncodeV1(Ep(ffff, 65535), Ep(ffff, 65535));
  EXPECT_EQ(v6, std::string("PROXY TCP6 ") + ffff + " " + ffff + " 65535 65535\r\n");
  EXPECT_EQ(v6.size(), 104u);
  EXPECT_EQ(EncodeV1Unknown(), "PROXY UNKNOWN\r\n");
  EXPECT_EQ(EncodeV1Unknown().size(), 15u);

  std::string worst = std::string("PROXY UNKNOWN ") + ffff + " " + ffff + " 65535 65535\r\n";
  ASSERT_EQ(worst.size(), kV1MaxLength);
  DecodeResult r = DecodeIncrementally(worst);
  ASSERT_EQ(r.state, State::kDone) << r.error;
  EXPECT_EQ(r.consumed, 107u);
  EXPECT_FALSE(r.header.source.has_value());
  EXPECT_EQ(r.header.transport, Transport::kUnspec);

  std::string too_long = worst;
  too_long.insert(too_long.size() - 2, "5");
  EXPECT_EQ(Decode(too_long).state, State::kError);
  EXPECT_EQ(Decode(std::string(106, 'P').replace(0, 6, "PROXY ")).state, State::kNeedMore);
  EXPECT_EQ(Decode(std::string(107, 'P').replace(0, 6, "PROXY ")).state, State::kError);
}

TEST(ProxyProtocolV1Test, RoundTripsIpv6) {
  std::string line = EncodeV1(Ep("2001:db8::1", 1), Ep("2001:db8::2", 0));
  EXPECT_EQ(line, "PROXY TCP6 2001:db8::1 2001:db8::2 1 0\r\n");
  DecodeResult r = Decode(line);
  ASSERT_EQ(r.state, State::kDone) << r.error;
  EXPECT_EQ(r.header.source->address, asio::ip::make_address("2001:db8::1"));
  EXPECT_EQ(r.header.destination->port, 0);
}

TEST(ProxyProtocolV1Test, NormalizesFamilies) {
  EXPECT_EQ(EncodeV1(Ep("::ffff:198.51.100.7", 5000), Ep("203.0.113.1", 80)),
            "PROXY TCP4 198.51.100.7 203.0.113.1 5000 80\r\n");
  EXPECT_EQ(EncodeV1(Ep("198.51.100.7", 5000), Ep("2001:db8::80", 80)),
            "PROXY TCP6 ::ffff:198.51.100.7 2001:db8::80 5000 80\r\n");
  EXPECT_EQ(EncodeV1(Ep("fe80::1%1", 5000), Ep("fe80::2", 80)),
            "PROXY TCP6 fe80::1 fe80::2 5000 80\r\n");
}

TEST(ProxyProtocolV1Test, StrictParsing) {
  for (const char* bad : {
           "PROXY TCP4 192.168.0.1  192.168.0.11 56324 443\r\n",
           "PROXY TCP4 192.168.000.1 192.168.0.11 56324 443\r\n",
           "PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n",
           "PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n",
           "PROXY TCP4 192.168.0.1 192.168.0.11 -1 443\r\n",
           "PROXY TCP4 2001:db8::1 192.168.0.11 1 443\r\n",
           "PROXY TCP6 192.168.0.1 2001:db8::1 1 443\r\n",
           "PROXY TCP6 fe80::1%eth0 2001:db8::1 1 443\r\n",
           "PROXY tcp4 192.168.0.1 192.168.0.11 1 443\r\n",
           "PROXY UDP4 192.168.0.1 192.168.0.11 1 443\r\n",
           "PROXY TCP4 192.168.0.1 192.168.0.11 1\r\n",
           "PROXY TCP4 192.168.0.1 192.168.0.11 1 443 9\r\n",
           "PROXY TCP4 192.168.0.1 192.168.0.11 1 443 \r\n",
           "PROXY TCP4 192.168.0.1 192.168.0.11 1 443\n",
           "PROXY TCP4 192.168.0.1 192.168.0.11 1 443\rX\n",
           "PROXY \r\n",
           "PROXX TCP4",
           "proxy TCP4",
           "GET / HTTP/1.1\r\n",
           "\x16\x03\x01",
       }) {
    DecodeResult r = Decode(bad);
    EXPECT_EQ(r.state, State::kError) << bad;
    EXPECT_FALSE(r.error.empty());
  }
  // The spec says to ignore whatever follows UNKNOWN.
  EXPECT_EQ(Decode("PROXY UNKNOWN whatever\r\n").state, State::kDone);
}

// haproxy's send-proxy-v2 output for TCP 172.19.0.1:42578 -> 172.19.0.3:80
// (a published capture), which our encoder must reproduce exactly.
constexpr std::string_view kHaproxyV2Tcp4 =
    "0d0a0d0a000d0a515549540a"
    "21"
    "11"
    "000c"
    "ac130001"
    "ac130003"
    "a652"
    "0050";

TEST(ProxyProtocolV2Test, MatchesHaproxyBytes) {
  std::string bytes = Hex(kHaproxyV2Tcp4);
  ASSERT_EQ(bytes.size(), 28u);
  Header h;
  h.source = Ep("172.19.0.1", 42578);
  h.destination = Ep("172.19.0.3", 80);
  absl::StatusOr<std::string> encoded = EncodeV2(h);
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(*encoded, bytes);
  EXPECT_EQ(EncodeForConnection(Version::kV2, *h.source, *h.destination), bytes);

  DecodeResult r = DecodeIncrementally(bytes, "GET ");
  ASSERT_EQ(r.state, State::kDone) << r.error;
  EXPECT_EQ(r.consumed, 28u);
  EXPECT_EQ(r.header.version, Version::kV2);
  EXPECT_EQ(r.header.command, Command::kProxy);
  EXPECT_EQ(r.header.transport, Transport::kStream);
  EXPECT_EQ(r.header.source->address.to_string(), "172.19.0.1");
  EXPECT_EQ(r.header.source->port, 42578);
  EXPECT_EQ(r.header.destination->address.to_string(), "172.19.0.3");
  EXPECT_EQ(r.header.destination->port, 80);
}

TEST(ProxyProtocolV2Test, Ipv6UdpAndTlvLayout) {
  Header h;
  h.transport = Transport::kDgram;
  h.source = Ep("2001:db8::1", 0x1234);
  h.destination = Ep("2001:db8::2", 0x0035);
  h.tlvs.push_back(Tlv{kTlvAuthority, "app.example.com"});
  absl::StatusOr<std::string> encoded = EncodeV2(h);
  ASSERT_TRUE(encoded.ok());
  // Section 2.2: \x22 = UDP over IPv6; 36 address bytes + TLV 3 + 15.
  std::string want = Hex("0d0a0d0a000d0a515549540a"
                         "21"
                         "22"
                         "0036"
                         "20010db8000000000000000000000001"
                         "20010db8000000000000000000000002"
                         "1234"
                         "0035") +
                     "\x02" + std::string("\x00\x0f", 2) + "app.example.com";
  EXPECT_EQ(*encoded, want);
  DecodeResult r = DecodeIncrementally(want);
  ASSERT_EQ(r.state, State::kDone) << r.error;
  EXPECT_EQ(r.header.transport, Transport::kDgram);
  EXPECT_EQ(r.header.source->port, 0x1234);
  EXPECT_EQ(r.header.authority(), "app.example.com");
  ASSERT_EQ(r.header.tlvs.size(), 1u);
}

TEST(ProxyProtocolV2Test, EncodeForConnectionCarriesAuthority) {
  std::string bytes = EncodeForConnection(Version::kV2, Ep("198.51.100.7", 50000),
                                          Ep("203.0.113.1", 443), "shop.example");
  DecodeResult r = Decode(bytes);
  ASSERT_EQ(r.state, State::kDone) << r.error;
  EXPECT_EQ(r.consumed, bytes.size());
  EXPECT_EQ(r.header.source->address.to_string(), "198.51.100.7");
  EXPECT_EQ(r.header.destination->port, 443);
  EXPECT_EQ(r.header.authority(), "shop.example");
  EXPECT_EQ(
      EncodeForConnection(Version::kV1, Ep("198.51.100.7", 50000), Ep("203.0.113.1", 443), "x"),
      "PROXY TCP4 198.51.100.7 203.0.113.1 50000 443\r\n");
}

TEST(ProxyProtocolV2Test, LocalAndUnspec) {
  Header local;
  local.command = Command::kLocal;
  local.source = Ep("192.0.2.1", 1);  // ignored for LOCAL
  local.destination = Ep("192.0.2.2", 2);
  EXPECT_EQ(*EncodeV2(local), std::string(kV2Signature) + std::string("\x20\x00\x00\x00", 4));

  // A LOCAL header's block is discarded whatever it holds.
  std::string with_block = std::string(kV2Signature) + std::string("\x20\x11\x00\x05", 4) + "abcde";
  DecodeResult r = Decode(with_block);
  ASSERT_EQ(r.state, State::kDone) << r.error;
  EXPECT_EQ(r.header.command, Command::kLocal);
  EXPECT_EQ(r.consumed, with_block.size());
  EXPECT_FALSE(r.header.source.has_value());

  Header unspec;
  unspec.transport = Transport::kUnspec;
  std::string u = *EncodeV2(unspec);
  EXPECT_EQ(u, std::string(kV2Signature) + std::string("\x21\x00\x00\x00", 4));
  EXPECT_FALSE(Decode(u).header.source.has_value());

  std::string unix_stream =
      std::string(kV2Signature) + std::string("\x21\x31\x00\xd8", 4) + std::string(216, '\0');
  r = Decode(unix_stream);
  ASSERT_EQ(r.state, State::kDone) << r.error;
  EXPECT_FALSE(r.header.source.has_value());
  EXPECT_EQ(r.consumed, 16u + 216u);
}

TEST(ProxyProtocolV2Test, RejectsMalformedHeaders) {
  const std::string sig(kV2Signature);
  struct Bad {
    const char* name;
    std::string bytes;
  };
  std::vector<Bad> cases = {
      {"bad signature", "\r\n\r\n\x01" + std::string(20, 'x')},
      {"version 1", sig + std::string("\x11\x11\x00\x0c", 4) + std::string(12, '\0')},
      {"command 2", sig + std::string("\x22\x11\x00\x0c", 4) + std::string(12, '\0')},
      {"family 4", sig + std::string("\x21\x41\x00\x00", 4)},
      {"protocol 3", sig + std::string("\x21\x13\x00\x0c", 4) + std::string(12, '\0')},
      {"short IPv4 block", sig + std::string("\x21\x11\x00\x04", 4) + std::string(4, '\0')},
      {"short IPv6 block", sig + std::string("\x21\x21\x00\x0c", 4) + std::string(12, '\0')},
      {"truncated TLV", sig + std::string("\x21\x11\x00\x0e", 4) + std::string(12, '\0') +
                            std::string("\x02\x00", 2)},
      {"TLV overrun", sig + std::string("\x21\x11\x00\x10", 4) + std::string(12, '\0') +
                          std::string("\x02\x00\x09z", 4)},
      {"over the size bound", sig + std::string("\x21\x11\x10\x00", 4)},
  };
  for (const Bad& c : cases) {
    DecodeResult r = Decode(c.bytes);
    EXPECT_EQ(r.state, State::kError) << c.name;
    EXPECT_FALSE(r.error.empty()) << c.name;
  }
  DecodeLimits roomy;
  roomy.max_v2_bytes = 16 + 0x1000;
  EXPECT_EQ(Decode(sig + std::string("\x21\x11\x10\x00", 4), roomy).state, State::kNeedMore);

  Header huge;
  huge.tlvs.push_back(Tlv{kTlvNoop, std::string(0x10000, 'n')});
  EXPECT_FALSE(EncodeV2(huge).ok());
}

TEST(ProxyProtocolTest, RoundTripMatrix) {
  for (const char* src : {"192.0.2.10", "2001:db8::10", "::ffff:192.0.2.10"}) {
    for (const char* dst : {"198.51.100.1", "2001:db8::1"}) {
      Endpoint s = Ep(src, 40000);
      Endpoint d = Ep(dst, 8443);
      for (Version v : {Version::kV1, Version::kV2}) {
        std::string bytes = EncodeForConnection(v, s, d, "h.example");
        DecodeResult r = DecodeIncrementally(bytes);
        ASSERT_EQ(r.state, State::kDone) << src << " " << dst << " v" << static_cast<int>(v);
        EXPECT_EQ(r.consumed, bytes.size());
        EXPECT_EQ(r.header.source->port, 40000);
        EXPECT_EQ(r.header.destination->port, 8443);
        // Same family on the wire; the original address is recoverable.
        EXPECT_EQ(r.header.source->address.is_v4(), r.header.destination->address.is_v4());
        auto unmapped = [](asio::ip::address a) {
          if (a.is_v6() && a.to_v6().is_v4_mapped())
            return asio::ip::address(asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()));
          return a;
        };
        EXPECT_EQ(unmapped(r.header.source->address), unmapped(s.address));
        EXPECT_EQ(unmapped(r.header.destination->address), unmapped(d.address));
        EXPECT_EQ(r.header.authority(), v == Version::kV2 ? "h.example" : "");
      }
    }
  }
}

}  // namespace
}  // namespace reitunnel::proxy_protocol
