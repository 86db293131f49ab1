#pragma once

// One HTTP/1.1 exchange of the dashboard, as plain values: the request the
// connection read (head already parsed and bounded by http::RequestHeadReader)
// and the response the handler built. Kept free of sockets so routing, auth
// and JSON can be tested as functions.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace reitunnel::server::dashboard {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // request-target without the query, e.g. "/api/v1/events"
  std::string query;   // after '?', raw; "" when none
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  std::string body;
  std::string peer_ip;  // for login throttling and logs
  bool tls = false;
  // Set when the TLS client presented a certificate the admin client CA
  // verified; its subject.
  std::optional<std::string> client_cert_subject;

  // First header named `name` (ASCII case-insensitive).
  std::optional<std::string_view> Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;  // empty: no body type (204, HEAD of nothing)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra fields
};

// The status line, the fields (Content-Length computed, Connection per
// `keep_alive`) and, unless `head_only`, the body.
std::string SerializeResponse(const HttpResponse& r, bool keep_alive, bool head_only);

// The value of cookie `name` in the request's Cookie header(s), if any.
std::optional<std::string> CookieValue(const HttpRequest& req, std::string_view name);

// The value of `name` in an application/x-www-form-urlencoded style query
// (no percent-decoding: the dashboard's parameters are plain numbers).
std::optional<std::string> QueryParam(std::string_view query, std::string_view name);

// Splits a request-target into path and query.
void SplitTarget(std::string_view target, std::string* path, std::string* query);

}  // namespace reitunnel::server::dashboard
