#pragma once

// The dashboard's routes, as a function from request to response:
//
//   GET  /, /app.js, /app.css, /favicon.svg  the page (built into the binary)
//   GET  /api/v1/session   who am I (authenticated or not)
//   POST /api/v1/login     {"token": "..."} -> session cookie
//   POST /api/v1/logout    ends the cookie session (X-CSRF-Token)
//   GET  /api/v1/overview  dashboard.v1.Overview
//   GET  /api/v1/events?after=SEQ  dashboard.v1.EventsResponse
//
// The page itself is public (it holds no data); every data route needs the
// admin credentials (dashboard_auth.h). A cookie session's POSTs need its
// CSRF token in X-CSRF-Token; logins need Content-Type: application/json,
// which no cross-site form can send. Every response carries a strict
// Content-Security-Policy (no inline script or style), nosniff and
// frame-ancestors 'none'; API answers are never cached. No response or log
// line repeats a token or a session id.

#include <optional>

#include "server/auth/auth_throttle.h"
#include "server/dashboard/dashboard_auth.h"
#include "server/dashboard/dashboard_source.h"
#include "server/dashboard/http_message.h"

namespace reitunnel::server::dashboard {

class DashboardHandler {
 public:
  // All must outlive the handler. `tls`: cookies get the Secure attribute.
  DashboardHandler(const DashboardAuth* auth, DashboardSource* source, AuthThrottle* login_throttle,
                   bool tls)
      : auth_(auth), source_(source), throttle_(login_throttle), tls_(tls) {}

  HttpResponse Handle(const HttpRequest& req);

 private:
  // 429 while the peer is blocked after failed logins.
  std::optional<HttpResponse> Throttled(const HttpRequest& req);
  HttpResponse Login(const HttpRequest& req);
  HttpResponse Logout(const HttpRequest& req, const Principal& who);
  HttpResponse SessionInfo(const std::optional<Principal>& who);

  const DashboardAuth* auth_;
  DashboardSource* source_;
  AuthThrottle* throttle_;
  bool tls_;
};

}  // namespace reitunnel::server::dashboard
