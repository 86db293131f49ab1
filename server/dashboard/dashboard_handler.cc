#include "server/dashboard/dashboard_handler.h"

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/http/ascii.h"
#include "common/log/log.h"
#include "common/proto_util/time.h"
#include "common/wire/auth.h"
#include "google/protobuf/util/json_util.h"
#include "reitunnel/dashboard/v1/dashboard.pb.h"
#include "server/dashboard/assets.h"

namespace reitunnel::server::dashboard {

namespace dv1 = reitunnel::dashboard::v1;

namespace {

constexpr std::string_view kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

void AddCommonHeaders(HttpResponse* r, bool cache_ok) {
  r->headers.emplace_back("Content-Security-Policy", kCsp);
  r->headers.emplace_back("X-Content-Type-Options", "nosniff");
  r->headers.emplace_back("X-Frame-Options", "DENY");
  r->headers.emplace_back("Referrer-Policy", "no-referrer");
  r->headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  r->headers.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
  // Static files may be revalidated; data and session answers never kept.
  r->headers.emplace_back("Cache-Control", cache_ok ? "no-cache" : "no-store");
}

HttpResponse Json(int status, const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.always_print_primitive_fields = true;
  opts.preserve_proto_field_names = true;
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  if (!google::protobuf::util::MessageToJsonString(m, &r.body, opts).ok()) {
    r.status = 500;
    r.body = R"({"error":"cannot encode the answer"})";
  }
  return r;
}

// `message` is always one of the fixed strings below: nothing from the
// request is ever echoed.
HttpResponse Error(int status, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = R"({"error":")" + std::string(message) + R"("})";
  return r;
}

bool IsJson(const HttpRequest& req) {
  auto ct = req.Header("content-type");
  if (!ct) return false;
  std::string_view v = http::TrimOws(ct->substr(0, ct->find(';')));
  return http::EqualsIgnoreCase(v, "application/json");
}

// Browsers say where a request comes from; refuse state changes from other
// sites even before looking at cookies (SameSite=Strict already keeps the
// cookie away from them).
bool CrossSite(const HttpRequest& req) {
  auto site = req.Header("sec-fetch-site");
  return site && *site != "same-origin" && *site != "none";
}

std::string SessionCookie(std::string_view value, int64_t max_age, bool secure) {
  return absl::StrCat(std::string(kSessionCookie), "=", std::string(value), "; Path=/; Max-Age=",
                      max_age, "; HttpOnly; SameSite=Strict", secure ? "; Secure" : "");
}

}  // namespace

std::optional<HttpResponse> DashboardHandler::Throttled(const HttpRequest& req) {
  auto blocked = throttle_->BlockedFor(req.peer_ip);
  if (blocked.count() == 0) return std::nullopt;
  throttle_->CountRefused();
  HttpResponse r = Error(429, "too many failed logins: try again later");
  r.headers.emplace_back(
      "Retry-After",
      absl::StrCat(std::chrono::duration_cast<std::chrono::seconds>(blocked).count() + 1));
  return r;
}

HttpResponse DashboardHandler::Handle(const HttpRequest& req) {
  HttpResponse r;
  bool is_get = req.method == "GET" || req.method == "HEAD";
  bool cache_ok = false;
  if (req.path.rfind("/api/", 0) != 0) {
    const Asset* a = FindAsset(req.path == "/" ? "/index.html" : req.path);
    if (!a) {
      r = Error(404, "not found");
    } else if (!is_get) {
      r = Error(405, "method not allowed");
      r.headers.emplace_back("Allow", "GET, HEAD");
    } else {
      r.content_type = std::string(a->content_type);
      r.body = std::string(a->body);
      cache_ok = true;
    }
    AddCommonHeaders(&r, cache_ok);
    return r;
  }

  // A bearer token is a login attempt too: the same throttle applies.
  bool bearer = req.Header("authorization").has_value();
  if (bearer) {
    if (auto refused = Throttled(req)) {
      AddCommonHeaders(&*refused, false);
      return *std::move(refused);
    }
  }
  std::optional<Principal> who = auth_->Authenticate(req);
  if (bearer && !who) {
    throttle_->RecordFailure(req.peer_ip);
    log::Warn("dashboard_login_failed", "dashboard request with a wrong bearer token",
              {{"peer", req.peer_ip}});
  }
  auto route = [&]() -> HttpResponse {
    if (req.path == "/api/v1/login") {
      if (req.method != "POST") return Error(405, "method not allowed");
      return Login(req);
    }
    if (req.path == "/api/v1/session") {
      if (!is_get) return Error(405, "method not allowed");
      return SessionInfo(who);
    }
    bool known = req.path == "/api/v1/logout" || req.path == "/api/v1/overview" ||
                 req.path == "/api/v1/events";
    if (!known) return Error(404, "not found");
    if (!who) {
      HttpResponse u = Error(401, "log in with the admin token");
      u.headers.emplace_back("WWW-Authenticate", R"(Bearer realm="reitunnel")");
      return u;
    }
    source_->OnViewer();
    if (req.path == "/api/v1/logout") {
      if (req.method != "POST") return Error(405, "method not allowed");
      return Logout(req, *who);
    }
    if (!is_get) return Error(405, "method not allowed");
    if (req.path == "/api/v1/overview") return Json(200, source_->Overview());
    uint64_t after = 0;
    if (auto a = QueryParam(req.query, "after"); a && !absl::SimpleAtoi(*a, &after)) {
      return Error(400, "after must be a number");
    }
    return Json(200, source_->Events(after));
  };
  r = route();
  AddCommonHeaders(&r, false);
  return r;
}

HttpResponse DashboardHandler::Login(const HttpRequest& req) {
  if (CrossSite(req)) return Error(403, "cross-site request refused");
  if (!IsJson(req)) return Error(415, "send the token as application/json");
  if (!auth_->token_login_enabled()) {
    return Error(403, "token login is off: use a client certificate");
  }
  if (auto refused = Throttled(req)) return *std::move(refused);
  dv1::LoginRequest login;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  if (!google::protobuf::util::JsonStringToMessage(req.body, &login, opts).ok()) {
    return Error(400, "expected {\"token\": \"...\"}");
  }
  if (!auth_->TokenMatches(login.token())) {
    throttle_->RecordFailure(req.peer_ip);
    log::Warn("dashboard_login_failed", "dashboard login with a wrong token",
              {{"peer", req.peer_ip}});
    return Error(401, "wrong token");
  }
  throttle_->RecordSuccess(req.peer_ip);
  SessionStore::Created c = auth_->sessions().Create();
  log::Info("dashboard_login", "dashboard login", {{"peer", req.peer_ip}});
  dv1::Session s;
  s.set_authenticated(true);
  s.set_method("cookie");
  *s.mutable_expires_at() = ToTimestamp(c.session.expires_at);
  s.set_csrf_token(c.session.csrf_token);
  HttpResponse r = Json(200, s);
  r.headers.emplace_back("Set-Cookie",
                         SessionCookie(c.id, auth_->sessions().ttl().count(), tls_));
  return r;
}

HttpResponse DashboardHandler::Logout(const HttpRequest& req, const Principal& who) {
  if (CrossSite(req)) return Error(403, "cross-site request refused");
  if (who.method == Principal::Method::kCookie) {
    auto csrf = req.Header("x-csrf-token");
    if (!csrf || !wire::ConstantTimeEquals(*csrf, who.session.csrf_token)) {
      return Error(403, "missing or wrong X-CSRF-Token");
    }
    auth_->sessions().Revoke(who.session_id);
  }
  HttpResponse r;
  r.status = 204;
  r.headers.emplace_back("Set-Cookie", SessionCookie("", 0, tls_));
  return r;
}

HttpResponse DashboardHandler::SessionInfo(const std::optional<Principal>& who) {
  dv1::Session s;
  if (who) {
    s.set_authenticated(true);
    s.set_method(MethodName(who->method));
    if (who->method == Principal::Method::kCookie) {
      *s.mutable_expires_at() = ToTimestamp(who->session.expires_at);
      s.set_csrf_token(who->session.csrf_token);
    }
    s.set_subject(who->subject);
  }
  return Json(200, s);
}

}  // namespace reitunnel::server::dashboard
