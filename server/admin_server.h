#pragma once

// The --admin gRPC endpoint: the AdminService, grpc.health.v1.Health (open
// to probes, NOT_SERVING while draining) and server reflection.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/server.h"
#include "reitunnel/config/v1/server.pb.h"

namespace reitunnel::server {

class AdminServer {
 public:
  // Binds `address` ("host:port"; port 0 picks one) and starts serving
  // `service` (which must outlive this object), with TLS when `tls` has a
  // certificate.
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(const std::string& address,
                                                            const config::v1::AdminConfig& tls,
                                                            grpc::Service* service);
  ~AdminServer();

  // "host:port" actually bound.
  const std::string& address() const { return address_; }
  void SetServing(bool serving);
  // Blocks until in-flight calls finish (bounded); the io_context that
  // handlers post to must still be running.
  void Shutdown();

 private:
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace reitunnel::server
