#pragma once

// etcd endpoint URLs (--cluster-etcd=URL[,URL...]) parsed into what a gRPC
// channel needs. Pure functions over strings so they can be unit-tested.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace reitunnel::cluster::etcd {

struct Endpoint {
  std::string url;   // as given, for logs
  std::string host;  // without brackets for IPv6 literals
  uint16_t port = 0;
  bool tls = false;  // https://
  // gRPC target: ipv4:/ipv6: for IP literals (no resolver), dns:/// for names.
  std::string grpc_target;
  // Host name for TLS verification and :authority.
  std::string authority;
};

inline constexpr size_t kMaxEndpoints = 16;
inline constexpr uint16_t kDefaultEtcdPort = 2379;

// http://host[:port] or https://host[:port], optional trailing '/'. No path,
// query or user info. Missing port: 2379.
absl::StatusOr<Endpoint> ParseEndpoint(std::string_view url);

// Comma-separated list of URLs; empty items are an error.
absl::StatusOr<std::vector<Endpoint>> ParseEndpoints(std::string_view urls);

}  // namespace reitunnel::cluster::etcd
