#pragma once

// Admin API authentication: a bearer token compared in constant time, or a
// verified mTLS client certificate. Errors never hint at the secret.

#include <string>

#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace reitunnel::server {

class AdminAuth {
 public:
  AdminAuth(std::string token, bool accept_client_certs)
      : token_(std::move(token)), accept_client_certs_(accept_client_certs) {}

  grpc::Status Check(const grpc::ServerContextBase& ctx) const;

 private:
  std::string token_;
  bool accept_client_certs_;
};

}  // namespace reitunnel::server
