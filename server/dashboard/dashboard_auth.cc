#include "server/dashboard/dashboard_auth.h"

#include "common/wire/auth.h"

namespace reitunnel::server::dashboard {

const char* MethodName(Principal::Method m) {
  switch (m) {
    case Principal::Method::kCookie: return "cookie";
    case Principal::Method::kBearer: return "bearer";
    case Principal::Method::kClientCertificate: return "client_certificate";
  }
  return "unknown";
}

bool DashboardAuth::TokenMatches(std::string_view token) const {
  return !token_.empty() && wire::ConstantTimeEquals(token, token_);
}

std::optional<Principal> DashboardAuth::Authenticate(const HttpRequest& req) const {
  if (accept_client_certs_ && req.tls && req.client_cert_subject) {
    Principal p;
    p.method = Principal::Method::kClientCertificate;
    p.subject = *req.client_cert_subject;
    return p;
  }
  if (auto auth = req.Header("authorization")) {
    // A header that is present decides: a wrong bearer token does not fall
    // back to a cookie the same client may also carry.
    constexpr std::string_view kBearer = "Bearer ";
    if (auth->substr(0, kBearer.size()) != kBearer) return std::nullopt;
    if (!TokenMatches(auth->substr(kBearer.size()))) return std::nullopt;
    Principal p;
    p.method = Principal::Method::kBearer;
    return p;
  }
  if (auto id = CookieValue(req, kSessionCookie)) {
    if (auto s = sessions_->Find(*id)) {
      Principal p;
      p.method = Principal::Method::kCookie;
      p.session = *s;
      p.session_id = *id;
      return p;
    }
  }
  return std::nullopt;
}

}  // namespace reitunnel::server::dashboard
