#include "common/tls_sniff/client_hello_reader.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/common/tls_sniff/client_hellos.h"

namespace reitunnel::tls_sniff {
namespace {

using State = ClientHelloReader::State;
using namespace testing;  // NOLINT: the builders above

struct Outcome {
  State state;
  ClientHelloInfo info;
  std::string reason;
  size_t consumed = 0;
};

Outcome FeedChunks(const std::string& bytes, const std::vector<size_t>& cuts,
                   SniffLimits limits = {}) {
  ClientHelloReader reader(limits);
  Outcome o{State::kNeedMore, {}, {}, 0};
  size_t prev = 0;
  std::vector<size_t> all = cuts;
  all.push_back(bytes.size());
  for (size_t cut : all) {
    ClientHelloReader::Result r = reader.Feed(std::string_view(bytes).substr(prev, cut - prev));
    o.consumed += r.consumed;
    if (r.state != State::kNeedMore) break;
    EXPECT_EQ(r.consumed, cut - prev) << "NeedMore consumes its whole input";
    prev = cut;
  }
  o.state = reader.state();
  o.info = reader.info();
  o.reason = std::string(reader.error_reason());
  return o;
}

Outcome FeedAll(const std::string& bytes, SniffLimits limits = {}) {
  return FeedChunks(bytes, {}, limits);
}

void ExpectSameInfo(const ClientHelloInfo& a, const ClientHelloInfo& b) {
  EXPECT_EQ(a.server_name, b.server_name);
  EXPECT_EQ(a.alpn, b.alpn);
  EXPECT_EQ(a.legacy_version, b.legacy_version);
  EXPECT_EQ(a.offers_tls13, b.offers_tls13);
}

struct RealCase {
  const char* name;
  HelloOptions options;
  std::optional<std::string> want_sni;
  bool want_tls13;
};

std::vector<RealCase> RealCases() {
  std::vector<RealCase> cases;
  HelloOptions o;
  o.server_name = "app.example.com";
  o.alpn = {"h2", "http/1.1"};
  cases.push_back({"tls13_sni_alpn", o, "app.example.com", true});

  o = HelloOptions();
  o.server_name = "Mixed.Case.Example";
  o.max_version = TLS1_2_VERSION;
  cases.push_back({"tls12_only", o, "mixed.case.example", false});

  o = HelloOptions();
  o.min_version = TLS1_3_VERSION;
  o.server_name = "xn--bcher-kva.example";
  o.padding = true;
  cases.push_back({"tls13_only_idn_padded", o, "xn--bcher-kva.example", true});

  o = HelloOptions();
  o.alpn = {"http/1.1"};
  cases.push_back({"no_sni", o, std::nullopt, true});
  return cases;
}

TEST(ClientHelloReaderTest, ReadsRealOpenSslHellos) {
  for (const RealCase& c : RealCases()) {
    SCOPED_TRACE(c.name);
    std::string hello = OpenSslClientHello(c.options);
    ASSERT_GT(hello.size(), 50u);
    Outcome o = FeedAll(hello);
    ASSERT_EQ(o.state, State::kDone) << o.reason;
    EXPECT_EQ(o.consumed, hello.size());
    EXPECT_EQ(o.info.server_name, c.want_sni);
    EXPECT_EQ(o.info.alpn, c.options.alpn);
    EXPECT_EQ(o.info.legacy_version, 0x0303);
    EXPECT_EQ(o.info.offers_tls13, c.want_tls13);
  }
}

TEST(ClientHelloReaderTest, SameResultAtEverySplitPointAndByteByByte) {
  for (const RealCase& c : RealCases()) {
    SCOPED_TRACE(c.name);
    std::string hello = OpenSslClientHello(c.options);
    Outcome whole = FeedAll(hello);
    ASSERT_EQ(whole.state, State::kDone);
    for (size_t cut = 0; cut <= hello.size(); ++cut) {
      Outcome split = FeedChunks(hello, {cut});
      ASSERT_EQ(split.state, State::kDone) << cut << ": " << split.reason;
      EXPECT_EQ(split.consumed, hello.size()) << cut;
      ExpectSameInfo(split.info, whole.info);
    }
    std::vector<size_t> every_byte;
    for (size_t i = 1; i < hello.size(); ++i) every_byte.push_back(i);
    Outcome bytewise = FeedChunks(hello, every_byte);
    ASSERT_EQ(bytewise.state, State::kDone);
    ExpectSameInfo(bytewise.info, whole.info);
  }
}

TEST(ClientHelloReaderTest, HelloSplitAcrossRecordsByOpenSsl) {
  HelloOptions o;
  o.server_name = "split.example";
  for (int i = 0; i < 80; ++i) o.alpn.push_back("proto-" + std::to_string(i));
  o.max_fragment = 512;
  std::string hello = OpenSslClientHello(o);
  size_t records = 0;
  Unwrap(hello, &records);
  ASSERT_GT(records, 1u) << "OpenSSL did not fragment; the test proves nothing";
  Outcome out = FeedAll(hello);
  ASSERT_EQ(out.state, State::kDone) << out.reason;
  EXPECT_EQ(out.info.server_name, "split.example");
  EXPECT_EQ(out.info.alpn, o.alpn);
  for (size_t cut = 0; cut <= hello.size(); cut += 7) {
    EXPECT_EQ(FeedChunks(hello, {cut}).info.alpn, o.alpn) << cut;
  }
}

TEST(ClientHelloReaderTest, RecordCountBound) {
  HelloOptions o;
  o.server_name = "tiny.records.example";
  std::string handshake = Unwrap(OpenSslClientHello(o));
  std::string one_byte_records = Records(handshake, 1);
  SniffLimits roomy;
  roomy.max_records = handshake.size();
  Outcome ok = FeedAll(one_byte_records, roomy);
  ASSERT_EQ(ok.state, State::kDone) << ok.reason;
  EXPECT_EQ(ok.info.server_name, "tiny.records.example");

  Outcome refused = FeedAll(one_byte_records);
  EXPECT_EQ(refused.state, State::kError);
  EXPECT_EQ(refused.reason, "ClientHello in too many records");
}

TEST(ClientHelloReaderTest, StopsAtTheEndOfTheHello) {
  std::string hello = Records(Handshake(HelloBody(ServerNameExtension("a.example"))));
  Outcome o = FeedAll(hello + "\x14\x03\x03\x00\x01\x01" + "more");
  ASSERT_EQ(o.state, State::kDone);
  EXPECT_EQ(o.consumed, hello.size());
  ClientHelloReader reader;
  reader.Feed(hello);
  EXPECT_EQ(reader.Feed("x").consumed, 0u);
  EXPECT_EQ(reader.state(), State::kDone);
}

TEST(ClientHelloReaderTest, HandBuiltHellos) {
  Outcome o = FeedAll(Records(Handshake(HelloBody(
      ServerNameExtension("Host.Example.") + AlpnExtension({"h2"}) + Extension(0xfe0d, "x")))));
  ASSERT_EQ(o.state, State::kDone) << o.reason;
  EXPECT_EQ(o.info.server_name, "host.example");
  EXPECT_EQ(o.info.alpn, std::vector<std::string>{"h2"});

  // No extensions at all (legal before TLS 1.3): done, no SNI.
  o = FeedAll(Records(Handshake(HelloBody("", false))));
  ASSERT_EQ(o.state, State::kDone) << o.reason;
  EXPECT_EQ(o.info.server_name, std::nullopt);

  // Only a non-host_name entry: ignored per RFC 6066.
  o = FeedAll(Records(Handshake(HelloBody(ServerNameExtension("opaque", 7)))));
  ASSERT_EQ(o.state, State::kDone) << o.reason;
  EXPECT_EQ(o.info.server_name, std::nullopt);
}

TEST(ClientHelloReaderTest, NotTls) {
  for (const std::string& bytes :
       {std::string("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), std::string("SSH-2.0-OpenSSH_9.2\r\n"),
        std::string("\x16\x04\x00\x00\x10", 5), std::string("\x16\x01", 2)}) {
    EXPECT_EQ(FeedAll(bytes).state, State::kNotTls) << bytes;
  }
  // SSLv2-format ClientHello (what very old clients send): no extensions, so
  // nothing to route by.
  std::string v2 =
      std::string("\x80\x2e\x01\x03\x01\x00\x15\x00\x00\x00\x10", 11) + std::string(0x25, 'x');
  Outcome o = FeedAll(v2);
  EXPECT_EQ(o.state, State::kNotTls);
  EXPECT_EQ(o.reason, "SSLv2-format hello (no SNI)");
  EXPECT_EQ(FeedAll(std::string(1, '\x16')).state, State::kNeedMore);
}

TEST(ClientHelloReaderTest, MalformedInputIsAnError) {
  const std::string good_ext = ServerNameExtension("a.example");
  struct Bad {
    const char* name;
    std::string bytes;
  };
  std::string session_33 = U16(0x0303) + std::string(32, 'r') + U8(33) + std::string(33, 's') +
                           U16(2) + U16(0x1301) + U8(1) + U8(0);
  std::string odd_ciphers =
      U16(0x0303) + std::string(32, 'r') + U8(0) + U16(3) + "abc" + U8(1) + U8(0);
  std::string no_compression =
      U16(0x0303) + std::string(32, 'r') + U8(0) + U16(2) + U16(0x1301) + U8(0);
  std::string ext_too_long = HelloBody(good_ext);
  ext_too_long[32 + 2 + 1 + 4 + 2] = 0x7f;  // extensions length high byte
  std::string trailing = HelloBody(good_ext) + "z";
  std::vector<Bad> cases = {
      {"empty record", std::string("\x16\x03\x01\x00\x00", 5)},
      {"oversized record", std::string("\x16\x03\x01\x40\x01", 5)},
      {"not a ClientHello", Records(Handshake(HelloBody(good_ext), 2))},
      {"ClientHello too large", Records(U8(1) + U24(16 * 1024))},
      {"truncated body", Records(Handshake(std::string(20, 'x')))},
      {"session id over 32", Records(Handshake(session_33))},
      {"odd cipher suites", Records(Handshake(odd_ciphers))},
      {"no compression methods", Records(Handshake(no_compression))},
      {"extensions overrun", Records(Handshake(ext_too_long))},
      {"trailing bytes", Records(Handshake(trailing))},
      {"duplicate extension", Records(Handshake(HelloBody(good_ext + Extension(0xfe0d, "") + good_ext)))},
      {"duplicate unknown extension",
       Records(Handshake(HelloBody(Extension(0xfe0d, "") + Extension(0xfe0d, ""))))},
      {"two host names",
       Records(Handshake(HelloBody(Extension(0, U16(2 * 12) + U8(0) + U16(9) + "a.example" + U8(0) +
                                                    U16(9) + "b.example"))))},
      {"empty server_name list", Records(Handshake(HelloBody(Extension(0, U16(0)))))},
      {"empty host name", Records(Handshake(HelloBody(ServerNameExtension(""))))},
      {"server name overruns list", Records(Handshake(HelloBody(Extension(0, U16(5) + U8(0) + U16(9) + "ab"))))},
      {"IP address as SNI", Records(Handshake(HelloBody(ServerNameExtension("192.0.2.1"))))},
      {"underscore SNI", Records(Handshake(HelloBody(ServerNameExtension("a_b.example"))))},
      {"NUL in SNI", Records(Handshake(HelloBody(ServerNameExtension(std::string("a\0.example", 10)))))},
      {"non-ASCII SNI", Records(Handshake(HelloBody(ServerNameExtension("b\xc3\xbc" "cher.example"))))},
      {"empty ALPN protocol", Records(Handshake(HelloBody(Extension(16, U16(1) + U8(0)))))},
      {"empty ALPN list", Records(Handshake(HelloBody(Extension(16, U16(0)))))},
      {"odd supported_versions", Records(Handshake(HelloBody(Extension(43, U8(3) + "abc"))))},
      {"alert between fragments",
       [] {
         std::string hs = Handshake(HelloBody(ServerNameExtension("a.example")));
         return Records(hs.substr(0, 10)) + Records("\x02\x28", 16384, 21) + Records(hs.substr(10));
       }()},
  };
  for (const Bad& c : cases) {
    Outcome o = FeedAll(c.bytes);
    EXPECT_EQ(o.state, State::kError) << c.name << " (" << o.reason << ")";
    EXPECT_FALSE(o.reason.empty()) << c.name;
  }
}

TEST(ClientHelloReaderTest, HandshakeSizeBound) {
  // A ClientHello declared just over the bound is refused from its header,
  // before any of its body is buffered.
  SniffLimits limits;
  limits.max_handshake_bytes = 1024;
  std::string body = HelloBody(Extension(0xfe0d, std::string(1024, 'p')));
  Outcome o = FeedAll(Records(Handshake(body).substr(0, 4)), limits);
  EXPECT_EQ(o.state, State::kError);
  EXPECT_EQ(o.reason, "ClientHello too large");
  // Handshake header 4 + fixed body fields 41 + extensions length 2 +
  // extension header 4 = 51 bytes around the padding.
  std::string fits = HelloBody(Extension(0xfe0d, std::string(1024 - 51, 'p')));
  ASSERT_EQ(Handshake(fits).size(), 1024u);
  EXPECT_EQ(FeedAll(Records(Handshake(fits)), limits).state, State::kDone);
  std::string over = HelloBody(Extension(0xfe0d, std::string(1024 - 50, 'p')));
  EXPECT_EQ(FeedAll(Records(Handshake(over)), limits).state, State::kError);
}

// Every truncation and every single-byte corruption of a real hello is
// either rejected or parsed, never read out of bounds (ASan watches).
TEST(ClientHelloReaderTest, TruncationsAndCorruptionsAreSafe) {
  HelloOptions opts;
  opts.server_name = "corrupt.example";
  opts.alpn = {"h2", "http/1.1"};
  std::string body = Unwrap(OpenSslClientHello(opts)).substr(4);
  ClientHelloInfo info;
  std::string_view error;
  ASSERT_TRUE(ParseClientHello(body, &info, &error)) << error;
  size_t accepted_truncations = 0;
  for (size_t len = 0; len < body.size(); ++len) {
    if (ParseClientHello(body.substr(0, len), &info, &error)) {
      ++accepted_truncations;
      EXPECT_EQ(info.server_name, std::nullopt) << len;
    }
  }
  // Only the cut right after compression methods is a (shorter) valid hello.
  EXPECT_EQ(accepted_truncations, 1u);
  for (size_t i = 0; i < body.size(); ++i) {
    for (char v : {'\x00', '\xff', '\x7f'}) {
      std::string mutated = body;
      mutated[i] = v;
      ParseClientHello(mutated, &info, &error);
      Outcome o = FeedAll(Records(Handshake(mutated)));
      EXPECT_NE(o.state, State::kNeedMore);
    }
  }
}

}  // namespace
}  // namespace reitunnel::tls_sniff
