#include "server/admin/admin_auth.h"

#include "common/wire/auth.h"
#include "grpcpp/security/auth_context.h"

namespace reitunnel::server {

grpc::Status AdminAuth::Check(const grpc::ServerContextBase& ctx) const {
  if (accept_client_certs_) {
    auto auth = ctx.auth_context();
    if (auth && auth->IsPeerAuthenticated()) return grpc::Status::OK;
  }
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it != md.end() && !token_.empty()) {
    std::string value(it->second.data(), it->second.size());
    constexpr std::string_view kBearer = "Bearer ";
    if (value.rfind(kBearer, 0) == 0 &&
        wire::ConstantTimeEquals(std::string_view(value).substr(kBearer.size()), token_)) {
      return grpc::Status::OK;
    }
  }
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "admin API needs a valid bearer token or client certificate");
}

}  // namespace reitunnel::server
