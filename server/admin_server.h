#pragma once

// The --admin gRPC endpoint. For now it serves grpc.health.v1.Health and
// server reflection; the admin API registers here later.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/server.h"

namespace reitunnel::server {

class AdminServer {
 public:
  // Binds `address` ("host:port"; port 0 picks one) and starts serving.
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(const std::string& address);
  ~AdminServer();

  // "host:port" actually bound.
  const std::string& address() const { return address_; }
  void SetServing(bool serving);
  void Shutdown();

 private:
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace reitunnel::server
