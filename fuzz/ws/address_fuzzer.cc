// Address parsing on arbitrary text: --server values, proxy URLs, and the
// NO_PROXY matcher (input split at its first newline into host and list).
// Nothing crashes; a parsed proxy URL's redacted form never shows the
// password; "*" matches every host.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/transport/http_proxy/proxy_select.h"
#include "common/transport/url/proxy_url.h"
#include "common/transport/url/server_address.h"
#include "fuzz/fuzz_check.h"

namespace url = reitunnel::transport::url;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<url::ServerAddress> server = url::ParseServerAddress(in);
  if (server.ok()) {
    FUZZ_CHECK(server->port != 0 && !server->host.empty());
    FUZZ_CHECK(server->is_websocket() == !server->path.empty());
    if (server->is_websocket()) FUZZ_CHECK(server->path.front() == '/');
    // What we print parses back to the same endpoint.
    absl::StatusOr<url::ServerAddress> again = url::ParseServerAddress(server->HostPort());
    FUZZ_CHECK(again.ok() && again->host == server->host && again->port == server->port);
  }

  absl::StatusOr<url::ProxyUrl> proxy = url::ParseProxyUrl(in);
  if (proxy.ok()) {
    const std::string redacted = proxy->Redacted();
    FUZZ_CHECK(redacted.rfind("http://", 0) == 0);
    FUZZ_CHECK((redacted.find(":***@") != std::string::npos) == proxy->credentials.has_value());
    // A password of 8+ characters without URL punctuation cannot be spelled
    // by the redacted text's fixed parts, so it may only appear if leaked.
    if (proxy->credentials && proxy->credentials->password.size() >= 8 &&
        proxy->credentials->password.find_first_of(":*@/?") == std::string::npos &&
        proxy->host.find(proxy->credentials->password) == std::string::npos &&
        proxy->credentials->user.find(proxy->credentials->password) == std::string::npos) {
      FUZZ_CHECK(redacted.find(proxy->credentials->password) == std::string::npos);
    }
  }

  const size_t nl = in.find('\n');
  const std::string_view host = in.substr(0, nl);
  const std::string_view list = nl == std::string_view::npos ? "" : in.substr(nl + 1);
  reitunnel::transport::NoProxyMatches(host, list);
  if (!host.empty()) FUZZ_CHECK(reitunnel::transport::NoProxyMatches(host, "*"));
  return 0;
}
