#include "common/http/responses.h"

#include <http_parser.h>

#include <string>

namespace reitunnel::http {
namespace {

std::string_view ReasonPhrase(int status) {
  if (status < 100 || status > 599) return "Unknown";
  const char* s = http_status_str(static_cast<http_status>(status));
  return (s == nullptr || *s == '\0' || std::string_view(s) == "<unknown>") ? "Unknown" : s;
}

std::string_view Body(int status) {
  switch (status) {
    case 400:
      return "bad request\n";
    case 401:
      return "authentication required\n";
    case 404:
      return "no tunnel serves this host\n";
    case 405:
      return "method not allowed\n";
    case 408:
      return "request not received in time\n";
    case 414:
      return "request line too long\n";
    case 421:
      return "misdirected request\n";
    case 431:
      return "request header fields too large\n";
    case 502:
      return "the tunnel's service is unreachable\n";
    case 503:
      return "the tunnel is busy, try again later\n";
    case 505:
      return "HTTP version not supported\n";
    default:
      return {};
  }
}

std::string Build(int status, std::string_view extra_headers) {
  std::string_view reason = ReasonPhrase(status);
  std::string body(Body(status));
  if (body.empty()) body = std::string(reason) + "\n";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out.append(reason);
  out += "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n";
  out.append(extra_headers);
  out += "\r\n" + body;
  return out;
}

}  // namespace

std::string ErrorResponse(int status) {
  if (status < 100 || status > 599) status = 500;
  return Build(status, "");
}

std::string UnauthorizedResponse(std::string_view realm) {
  std::string safe;
  for (char c : realm.substr(0, 128)) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') safe.push_back(c);
  }
  if (safe.empty()) safe = "reitunnel";
  return Build(401, "WWW-Authenticate: Basic realm=\"" + safe + "\", charset=\"UTF-8\"\r\n");
}

}  // namespace reitunnel::http
