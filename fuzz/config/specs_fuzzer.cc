// The small string formats of flags and config values, on arbitrary text:
// whatever parses must print and parse back to the same value.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/config/parse.h"
#include "fuzz/config/config_fuzz.h"

namespace {

namespace config = reitunnel::config;

void HostPortRoundTrip(std::string_view s) {
  absl::StatusOr<config::HostPort> hp = config::ParseHostPort(s);
  if (!hp.ok()) return;
  FUZZ_CHECK(!hp->host.empty());
  absl::StatusOr<config::HostPort> again = config::ParseHostPort(hp->ToString());
  FUZZ_CHECK(again.ok() && again->host == hp->host && again->port == hp->port);
  // The host part alone is a valid host.
  absl::StatusOr<std::string> host = config::ParseHost(hp->host);
  FUZZ_CHECK(host.ok() && *host == hp->host);
}

void HostIdempotent(std::string_view s) {
  absl::StatusOr<std::string> host = config::ParseHost(s);
  if (!host.ok()) return;
  absl::StatusOr<std::string> again = config::ParseHost(*host);
  FUZZ_CHECK(again.ok() && *again == *host);
}

void PortRangeChecks(std::string_view s) {
  absl::StatusOr<config::PortRange> r = config::ParsePortRange(s);
  if (!r.ok()) return;
  FUZZ_CHECK(r->low >= 1 && r->low <= r->high);
  FUZZ_CHECK(r->Contains(r->low) && r->Contains(r->high) && !r->Contains(0));
  absl::StatusOr<config::PortRange> again =
      config::ParsePortRange(absl::StrCat(r->low, "-", r->high));
  FUZZ_CHECK(again.ok() && again->low == r->low && again->high == r->high);
}

void TunnelSpecRoundTrip(std::string_view s) {
  absl::StatusOr<reitunnel::config::v1::TunnelConfig> t = config::ParseTunnelSpec(s);
  if (!t.ok()) return;
  FUZZ_CHECK(config::IsValidTunnelName(t->name()) && t->remote_port() <= 65535);
  absl::StatusOr<config::HostPort> local = config::ParseHostPort(t->local_addr());
  FUZZ_CHECK(local.ok() && local->port != 0);
  absl::StatusOr<reitunnel::config::v1::TunnelConfig> again = config::ParseTunnelSpec(
      absl::StrCat(t->name(), "=", t->remote_port(), ":", t->local_addr()));
  FUZZ_CHECK(again.ok() && again->name() == t->name() && again->remote_port() == t->remote_port() &&
        again->local_addr() == t->local_addr());
}

void HookSpecRoundTrip(std::string_view s) {
  absl::StatusOr<reitunnel::config::v1::HookConfig> h = config::ParseHookSpec(s);
  if (!h.ok()) return;
  FUZZ_CHECK(config::IsValidHookName(h->name()));
  FUZZ_CHECK(config::ValidateHookAddress(h->address()).ok());
  absl::StatusOr<reitunnel::config::v1::HookConfig> again =
      config::ParseHookSpec(absl::StrCat(h->name(), "=", h->address()));
  FUZZ_CHECK(again.ok() && again->name() == h->name() && again->address() == h->address());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  HostPortRoundTrip(s);
  HostIdempotent(s);
  PortRangeChecks(s);
  TunnelSpecRoundTrip(s);
  HookSpecRoundTrip(s);
  (void)config::ValidateHookAddress(s);
  (void)config::IsValidLabelKey(s);
  return 0;
}
