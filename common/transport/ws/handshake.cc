#include "common/transport/ws/handshake.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdexcept>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/transport/http1/head.h"
#include "common/transport/http1/text.h"

namespace reitunnel::transport::ws {
namespace {

using http1::EqualsIgnoreCase;
using http1::HeaderHasToken;
using http1::SingleHeader;

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string Base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

bool IsBase64Char(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 426:
      return "Upgrade Required";
    case 431:
      return "Request Header Fields Too Large";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

bool IsValidOriginFormTarget(std::string_view p) {
  if (p.empty() || p.front() != '/') return false;
  for (unsigned char c : p) {
    if (c <= 0x20 || c >= 0x7f || c == '#') return false;
  }
  return true;
}

// Header names our request sets itself.
bool IsHandshakeHeader(std::string_view name) {
  for (std::string_view own : {"host", "upgrade", "connection", "sec-websocket-key",
                               "sec-websocket-version", "sec-websocket-protocol",
                               "sec-websocket-extensions", "content-length", "transfer-encoding"}) {
    if (EqualsIgnoreCase(name, own)) return true;
  }
  return false;
}

UpgradeCheck Reject(int status, std::string error) {
  UpgradeCheck c;
  c.status = status;
  c.error = std::move(error);
  return c;
}

}  // namespace

std::string MakeClientKey() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof(raw)) != 1) throw std::runtime_error("RAND_bytes failed");
  return Base64(raw, sizeof(raw));
}

std::string ComputeAcceptKey(std::string_view key) {
  const std::string input = std::string(key) + std::string(kGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr);
  return Base64(digest, len);
}

bool IsValidClientKey(std::string_view key) {
  // 16 bytes encode to 22 characters plus "==".
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  for (size_t i = 0; i < 22; ++i) {
    if (!IsBase64Char(key[i])) return false;
  }
  return true;
}

absl::StatusOr<std::string> BuildClientRequest(const ClientRequestSpec& spec,
                                               std::string_view key) {
  if (!IsValidOriginFormTarget(spec.path)) {
    return absl::InvalidArgumentError("websocket path must start with '/' and be visible ASCII");
  }
  if (spec.host_header.empty() || !http1::IsSafeFieldValue(spec.host_header)) {
    return absl::InvalidArgumentError("websocket Host header is empty or has control characters");
  }
  if (!spec.subprotocol.empty() && !http1::IsToken(spec.subprotocol)) {
    return absl::InvalidArgumentError("websocket subprotocol must be an HTTP token");
  }
  std::string out = absl::StrCat("GET ", spec.path, " HTTP/1.1\r\nHost: ", spec.host_header,
                                 "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                 "Sec-WebSocket-Key: ",
                                 std::string(key), "\r\nSec-WebSocket-Version: 13\r\n");
  if (!spec.subprotocol.empty()) {
    absl::StrAppend(&out, "Sec-WebSocket-Protocol: ", spec.subprotocol, "\r\n");
  }
  for (const auto& [name, value] : spec.extra_headers) {
    if (!http1::IsToken(name)) {
      return absl::InvalidArgumentError("extra header name is not an HTTP token");
    }
    if (IsHandshakeHeader(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("extra header ", name, " would override the handshake's own"));
    }
    if (!http1::IsSafeFieldValue(value)) {
      // The value may be a credential: only the name is quoted.
      return absl::InvalidArgumentError(
          absl::StrCat("extra header ", name, " has a value with control characters"));
    }
    absl::StrAppend(&out, name, ": ", value, "\r\n");
  }
  out += "\r\n";
  return out;
}

absl::Status CheckServerResponse(std::string_view head, std::string_view key,
                                 std::string_view offered_subprotocol,
                                 std::string* selected_subprotocol) {
  absl::StatusOr<http1::ResponseHead> r = http1::ParseResponseHead(head);
  if (!r.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("websocket handshake: bad answer from server: ", r.status().message()));
  }
  if (r->status != 101) {
    return absl::PermissionDeniedError(
        absl::StrCat("websocket handshake rejected by server: ", r->status_line));
  }
  auto fail = [&](const char* what) {
    return absl::InvalidArgumentError(
        absl::StrCat("websocket handshake: server answered 101 but ", what));
  };
  if (!HeaderHasToken(r->headers, "upgrade", "websocket"))
    return fail("without Upgrade: websocket");
  if (!HeaderHasToken(r->headers, "connection", "upgrade"))
    return fail("without Connection: upgrade");
  absl::StatusOr<std::optional<std::string_view>> accept =
      SingleHeader(r->headers, "sec-websocket-accept");
  if (!accept.ok() || !accept->has_value()) return fail("without one Sec-WebSocket-Accept");
  if (**accept != ComputeAcceptKey(key)) return fail("with a wrong Sec-WebSocket-Accept");
  absl::StatusOr<std::optional<std::string_view>> ext =
      SingleHeader(r->headers, "sec-websocket-extensions");
  if (!ext.ok() || (ext->has_value() && !(*ext)->empty())) {
    return fail("with an extension we did not offer");
  }
  absl::StatusOr<std::optional<std::string_view>> proto =
      SingleHeader(r->headers, "sec-websocket-protocol");
  if (!proto.ok()) return fail("with a repeated Sec-WebSocket-Protocol");
  selected_subprotocol->clear();
  if (proto->has_value()) {
    if (**proto != offered_subprotocol || offered_subprotocol.empty()) {
      return fail("with a subprotocol we did not offer");
    }
    *selected_subprotocol = std::string(**proto);
  }
  return absl::OkStatus();
}

UpgradeCheck CheckClientRequest(std::string_view head, std::string_view path) {
  absl::StatusOr<http1::RequestHead> r = http1::ParseRequestHead(head);
  if (!r.ok()) return Reject(400, std::string(r.status().message()));
  if (r->version_major != 1 || r->version_minor < 1) {
    return Reject(505, "upgrade needs HTTP/1.1");
  }
  if (r->method != "GET") {
    return Reject(405,
                  absl::StrCat("method ", http1::SanitizeForLog(r->method, 16), " (expected GET)"));
  }
  // Origin form "/p?q"; an absolute form "http://h/p?q" is reduced to its path.
  std::string_view target = r->target;
  if (!target.empty() && target.front() != '/') {
    const size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return Reject(400, "malformed request target");
    const size_t path_at = target.find('/', scheme_end + 3);
    target = path_at == std::string_view::npos ? "/" : target.substr(path_at);
  }
  const std::string_view req_path = target.substr(0, target.find('?'));
  if (req_path != path) {
    // The path is logged, never the query (it may carry a token).
    return Reject(404,
                  absl::StrCat("no websocket endpoint at ", http1::SanitizeForLog(req_path, 64)));
  }
  absl::StatusOr<std::optional<std::string_view>> host = SingleHeader(r->headers, "host");
  if (!host.ok() || !host->has_value() || (*host)->empty()) {
    return Reject(400, "missing or repeated Host header");
  }
  if (!HeaderHasToken(r->headers, "upgrade", "websocket")) {
    return Reject(400, "missing Upgrade: websocket (not a websocket request)");
  }
  if (!HeaderHasToken(r->headers, "connection", "upgrade")) {
    return Reject(400, "missing Connection: upgrade");
  }
  absl::StatusOr<std::optional<std::string_view>> version =
      SingleHeader(r->headers, "sec-websocket-version");
  if (!version.ok() || !version->has_value() || **version != "13") {
    return Reject(426, "missing or unsupported Sec-WebSocket-Version (expected 13)");
  }
  absl::StatusOr<std::optional<std::string_view>> key =
      SingleHeader(r->headers, "sec-websocket-key");
  if (!key.ok() || !key->has_value() || !IsValidClientKey(**key)) {
    return Reject(400, "missing, repeated or malformed Sec-WebSocket-Key");
  }
  UpgradeCheck ok;
  ok.request.path = std::string(req_path);
  ok.request.host = http1::SanitizeForLog(**host, 255);
  ok.request.key = std::string(**key);
  for (std::string_view v : http1::HeaderValues(r->headers, "sec-websocket-protocol")) {
    for (std::string_view p : http1::SplitList(v)) ok.request.offered_subprotocols.emplace_back(p);
  }
  std::vector<std::string_view> xff = http1::HeaderValues(r->headers, "x-forwarded-for");
  std::string joined;
  for (std::string_view v : xff) {
    if (!joined.empty()) joined += ", ";
    joined += v;
  }
  ok.request.forwarded_for = http1::SanitizeForLog(joined, 256);
  return ok;
}

std::string BuildAcceptResponse(std::string_view key, std::string_view subprotocol) {
  std::string out = absl::StrCat(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ",
      ComputeAcceptKey(key), "\r\n");
  if (!subprotocol.empty())
    absl::StrAppend(&out, "Sec-WebSocket-Protocol: ", std::string(subprotocol), "\r\n");
  out += "\r\n";
  return out;
}

std::string BuildErrorResponse(int status) {
  const char* reason = ReasonPhrase(status);
  const std::string body = absl::StrCat(status, " ", reason, "\n");
  std::string extra;
  if (status == 426) extra = "Sec-WebSocket-Version: 13\r\n";
  if (status == 405) extra = "Allow: GET\r\n";
  return absl::StrCat("HTTP/1.1 ", status, " ", reason, "\r\n", extra,
                      "Content-Type: text/plain\r\nContent-Length: ", body.size(),
                      "\r\nConnection: close\r\n\r\n", body);
}

}  // namespace reitunnel::transport::ws
