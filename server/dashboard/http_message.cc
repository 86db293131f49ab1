#include "server/dashboard/http_message.h"

#include "absl/strings/str_cat.h"
#include "common/http/ascii.h"

namespace reitunnel::server::dashboard {

namespace {

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

}  // namespace

std::optional<std::string_view> HttpRequest::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (http::EqualsIgnoreCase(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::string SerializeResponse(const HttpResponse& r, bool keep_alive, bool head_only) {
  std::string out = absl::StrCat("HTTP/1.1 ", r.status, " ", Reason(r.status), "\r\n");
  if (!r.content_type.empty()) absl::StrAppend(&out, "Content-Type: ", r.content_type, "\r\n");
  absl::StrAppend(&out, "Content-Length: ", r.body.size(), "\r\n");
  for (const auto& [n, v] : r.headers) absl::StrAppend(&out, n, ": ", v, "\r\n");
  absl::StrAppend(&out, keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n", "\r\n");
  if (!head_only) out += r.body;
  return out;
}

std::optional<std::string> CookieValue(const HttpRequest& req, std::string_view name) {
  for (const auto& [n, v] : req.headers) {
    if (!http::EqualsIgnoreCase(n, "cookie")) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view pair = http::TrimOws(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      size_t eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      if (http::TrimOws(pair.substr(0, eq)) != name) continue;
      std::string_view value = http::TrimOws(pair.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return std::string(value);
    }
  }
  return std::nullopt;
}

std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (key != name) continue;
    return std::string(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
  }
  return std::nullopt;
}

void SplitTarget(std::string_view target, std::string* path, std::string* query) {
  size_t q = target.find('?');
  *path = std::string(target.substr(0, q));
  *query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
}

}  // namespace reitunnel::server::dashboard
