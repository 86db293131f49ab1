#pragma once

// Who may see the dashboard: the admin API's credentials. A request is
// authenticated by (in this order) a verified client certificate when the
// admin API accepts them (mTLS), `Authorization: Bearer <admin token>`
// (scripts, curl), or the session cookie a login with the admin token set
// (browsers, which cannot add a header to a page load). Tokens are compared
// in constant time and never kept beyond the comparison.

#include <optional>
#include <string>
#include <string_view>

#include "server/dashboard/http_message.h"
#include "server/dashboard/session_store.h"

namespace reitunnel::server::dashboard {

inline constexpr std::string_view kSessionCookie = "reitunnel_session";

struct Principal {
  enum class Method { kCookie, kBearer, kClientCertificate };
  Method method = Method::kCookie;
  // kCookie: the session and its cookie value (for logout).
  SessionStore::Session session;
  std::string session_id;
  // kClientCertificate: the certificate's subject.
  std::string subject;
};
const char* MethodName(Principal::Method m);

class DashboardAuth {
 public:
  // `admin_token` empty: no token login (certificates only).
  DashboardAuth(std::string admin_token, bool accept_client_certs, SessionStore* sessions)
      : token_(std::move(admin_token)),
        accept_client_certs_(accept_client_certs),
        sessions_(sessions) {}

  std::optional<Principal> Authenticate(const HttpRequest& req) const;
  bool TokenMatches(std::string_view token) const;
  bool token_login_enabled() const { return !token_.empty(); }
  SessionStore& sessions() const { return *sessions_; }

 private:
  std::string token_;
  bool accept_client_certs_;
  SessionStore* sessions_;
};

}  // namespace reitunnel::server::dashboard
