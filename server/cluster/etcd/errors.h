#pragma once

// gRPC statuses from etcd turned into absl::Status, and the few etcd errors
// the client reacts to. etcd reports its errors as gRPC status messages
// ("etcdserver: ..."), see etcd's api/v3rpc/rpctypes/error.go.

#include <string_view>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace reitunnel::cluster::etcd {

// Same code; message "etcd <what>: <etcd's message>". etcd's messages never
// contain credentials.
absl::Status FromGrpc(const grpc::Status& status, std::string_view what);

// The token sent as `token` metadata expired or was never valid: fetch a new
// one and retry.
bool IsInvalidAuthToken(const grpc::Status& status);

// Wrong user name or password on Authenticate.
bool IsAuthFailed(const grpc::Status& status);

// True for errors after which another endpoint might do better.
bool IsEndpointFailure(const grpc::Status& status);

}  // namespace reitunnel::cluster::etcd
