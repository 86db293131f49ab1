#pragma once

// Reads a TLS ClientHello off the start of a connection to learn where to
// route it (SNI) without terminating TLS: the server forwards the exact bytes
// it read and then relays, and the tunnel's local service does the handshake.
//
// Handles a ClientHello split across several TLS records (RFC 8446 section
// 5.1 allows it) and across arbitrary TCP reads, within fixed bounds. It only
// reads: the caller keeps its own copy of the bytes to forward.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reitunnel::tls_sniff {

struct ClientHelloInfo {
  // The server_name extension's host_name (RFC 6066 section 3), canonical
  // per hostname::Normalize; nullopt when the client sent none.
  std::optional<std::string> server_name;
  // ALPN protocol names (RFC 7301) in the client's order; empty if none.
  std::vector<std::string> alpn;
  uint16_t legacy_version = 0;  // 0x0303 from TLS 1.2 and 1.3 clients
  bool offers_tls13 = false;    // supported_versions lists 0x0304
};

struct SniffLimits {
  // The ClientHello handshake message, its 4-byte header included. Real ones
  // are well under 2 KiB (post-quantum key shares add about 1.2 KiB).
  size_t max_handshake_bytes = 16 * 1024;
  // TLS records the ClientHello may be split into.
  size_t max_records = 32;
};

class ClientHelloReader {
 public:
  enum class State {
    kNeedMore,
    kDone,
    // The first bytes are not a TLS handshake record (plain HTTP, SSH, an
    // SSLv2-format hello, ...): nothing to route by.
    kNotTls,
    // TLS, but malformed or over a bound.
    kError,
  };
  struct Result {
    State state;
    // Bytes of this Feed's input up to the end of the ClientHello message
    // (kDone), all of it (kNeedMore), or 0 (kNotTls, kError). The server
    // forwards everything it read regardless; this is informational.
    size_t consumed;
  };

  explicit ClientHelloReader(SniffLimits limits = {});

  // After a final state, further calls consume nothing and repeat it.
  Result Feed(std::string_view bytes);

  State state() const { return state_; }
  const ClientHelloInfo& info() const { return info_; }  // kDone
  // kNotTls / kError: a fixed, log-safe reason that never quotes input.
  std::string_view error_reason() const { return reason_; }

 private:
  Result Stop(State state, std::string_view reason, size_t consumed);

  SniffLimits limits_;
  State state_ = State::kNeedMore;
  std::string_view reason_;

  uint8_t record_header_[5] = {};
  size_t record_header_len_ = 0;
  size_t record_remaining_ = 0;  // payload bytes left in the current record
  size_t records_ = 0;
  std::string handshake_;  // ClientHello message bytes so far, header included
  ClientHelloInfo info_;
};

// Parses a complete ClientHello body (the handshake message without its
// 4-byte header). On failure returns false and sets *error to a fixed reason.
bool ParseClientHello(std::string_view body, ClientHelloInfo* info, std::string_view* error);

}  // namespace reitunnel::tls_sniff
