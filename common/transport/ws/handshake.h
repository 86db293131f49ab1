#pragma once

// The RFC 6455 opening handshake as pure functions over HTTP heads: the
// client's request and its check of the 101 answer, the server's check of a
// request and its answers. The coroutines that drive them are in
// ws_handshake.h.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace reitunnel::transport::ws {

inline constexpr std::string_view kSubprotocol = "reitunnel.v1";

// 16 random bytes (OpenSSL RAND_bytes), base64: a Sec-WebSocket-Key.
std::string MakeClientKey();
// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
std::string ComputeAcceptKey(std::string_view key);
// A Sec-WebSocket-Key a server accepts: base64 of exactly 16 bytes.
bool IsValidClientKey(std::string_view key);

struct ClientRequestSpec {
  std::string host_header;  // "example.com", "example.com:8080", "[::1]:7000"
  std::string path;         // request target, "/reitunnel"
  std::string subprotocol;  // empty: none offered
  std::vector<std::pair<std::string, std::string>> extra_headers;
};

// The GET upgrade request. Fails (InvalidArgument) on header names that are
// not tokens, values with control characters, a path that is not a visible
// ASCII origin-form target, or extra headers that would clash with the
// handshake's own.
absl::StatusOr<std::string> BuildClientRequest(const ClientRequestSpec& spec, std::string_view key);

// Checks the server's answer head. On success sets *selected_subprotocol
// (empty when the server chose none). Errors quote the status line (made
// printable, bounded) but never header values.
absl::Status CheckServerResponse(std::string_view head, std::string_view key,
                                 std::string_view offered_subprotocol,
                                 std::string* selected_subprotocol);

struct UpgradeRequest {
  std::string path;  // without the query
  std::string host;  // the Host header
  std::string key;   // Sec-WebSocket-Key
  std::vector<std::string> offered_subprotocols;
  std::string forwarded_for;  // X-Forwarded-For as sent (untrusted), sanitized
};

struct UpgradeCheck {
  // 101 when the request is acceptable, else the HTTP status to answer
  // (400, 404, 405, 426, 505).
  int status = 101;
  std::string error;  // why not, for logs: no header values quoted
  UpgradeRequest request;
};

// Checks a client's request head against our `path` (exact match of the
// path component; the query is ignored).
UpgradeCheck CheckClientRequest(std::string_view head, std::string_view path);

// 101 Switching Protocols with Sec-WebSocket-Accept, and
// Sec-WebSocket-Protocol when `subprotocol` is not empty.
std::string BuildAcceptResponse(std::string_view key, std::string_view subprotocol);
// A short error answer ("Connection: close", tiny text body); 426 carries
// "Sec-WebSocket-Version: 13", 405 "Allow: GET".
std::string BuildErrorResponse(int status);

}  // namespace reitunnel::transport::ws
