#pragma once

// The connection to reitunneld's admin API: channel and TLS credentials,
// the bearer token on every call, deadlines, and the mapping from gRPC
// failures to one-line messages and exit codes.

#include <memory>
#include <string>
#include <string_view>

#include "cli/command.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "reitunnel/admin/v1/admin.grpc.pb.h"

namespace reitunnel::cli {

class AdminClient {
 public:
  // Reads the TLS files and creates the channel (connecting happens on the
  // first call). Fails with a usage or error outcome.
  static Outcome Create(const GlobalOptions& options, std::unique_ptr<AdminClient>* out);

  // For tests: an existing channel.
  AdminClient(const GlobalOptions& options, std::shared_ptr<grpc::Channel> channel);

  admin::v1::AdminService::StubInterface& stub() { return *stub_; }

  // Adds the credentials and, unless `streaming`, the call deadline.
  void Prepare(grpc::ClientContext* ctx, bool streaming = false) const;

  // Maps a failed call. `method` is the RPC name ("ListTunnels");
  // `not_found` is the message for NOT_FOUND (e.g. `no tunnel with id "x"`).
  Outcome Failure(const grpc::Status& status, std::string_view method,
                  std::string_view not_found = "") const;

  const std::string& address() const { return options_.admin; }

 private:
  GlobalOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<admin::v1::AdminService::StubInterface> stub_;
};

// The mapping behind AdminClient::Failure, exposed for tests.
Outcome MapRpcError(const grpc::Status& status, std::string_view address, std::string_view method,
                    std::string_view not_found, bool token_given, absl::Duration timeout);

// Shortens gRPC's transport error text ("failed to connect to all
// addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Failed to connect to
// remote host: Connection refused") to its cause ("connection refused").
std::string DescribeTransportError(std::string_view grpc_message);

}  // namespace reitunnel::cli
