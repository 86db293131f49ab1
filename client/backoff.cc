#include "client/backoff.h"

#include <algorithm>

namespace reitunnel::client {

std::chrono::milliseconds Backoff::CapFor(int attempt, FailureKind kind) const {
  uint64_t initial = static_cast<uint64_t>(initial_.count());
  uint64_t limit = static_cast<uint64_t>(
      (kind == FailureKind::kUnreachable ? max_ : std::min(max_, quick_max_)).count());
  uint64_t cap = initial << std::min(std::max(attempt, 0), 20);
  return std::chrono::milliseconds(std::min(cap, std::max(limit, initial / 2)));
}

std::chrono::milliseconds Backoff::Next(int attempt, FailureKind kind) {
  uint64_t lo = static_cast<uint64_t>(initial_.count()) / 2;
  uint64_t hi = static_cast<uint64_t>(CapFor(attempt, kind).count());
  std::uniform_int_distribution<uint64_t> dist(std::min(lo, hi), std::max(lo, hi));
  return std::chrono::milliseconds(dist(rng_));
}

}  // namespace reitunnel::client
