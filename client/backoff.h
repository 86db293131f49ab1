#pragma once

// How long the agent waits before reconnecting. Full jitter (uniform in
// [initial/2, cap], the cap doubling per attempt) spreads a fleet of agents
// after a server restart. The cap depends on why the attempt failed: a
// server that answered quickly (connection refused while it restarts, or
// refused the session for a retryable reason) is retried within a couple of
// seconds; an unreachable one (timeouts) backs off to the configured
// maximum.

#include <chrono>
#include <cstdint>
#include <random>

namespace reitunnel::client {

enum class FailureKind {
  // TCP connection refused / reset: the host is up, the server is not
  // listening (yet).
  kRefused,
  // Timed out or unreachable.
  kUnreachable,
  // The server answered and refused for a retryable reason.
  kServerRefused,
  // The session was up and ended (server restart, network drop).
  kDisconnected,
};

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
          std::chrono::milliseconds quick_max, uint64_t seed = std::random_device{}())
      : initial_(initial), max_(max), quick_max_(quick_max), rng_(seed) {}

  // The delay before attempt number `attempt` (0-based) after `kind`.
  std::chrono::milliseconds Next(int attempt, FailureKind kind);

  std::chrono::milliseconds CapFor(int attempt, FailureKind kind) const;

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds quick_max_;
  std::mt19937_64 rng_;
};

}  // namespace reitunnel::client
