#pragma once

// Which HTTP proxy, if any, the agent dials the server through, decided the
// way curl (8.x, lib/proxy.c + lib/noproxy.c) decides for a URL:
//
// 1. no_proxy, else NO_PROXY (an empty variable counts as unset): when it
//    matches the target host, connect directly, even with --proxy.
// 2. An explicit --proxy wins over the environment; --proxy="" means direct.
// 3. Else by the target's scheme, lowercase name first, then uppercase:
//      http   http_proxy, then HTTP_PROXY unless REQUEST_METHOD is set
//      https  https_proxy, HTTPS_PROXY
//      ws     ws_proxy, WS_PROXY, then as http
//      wss    wss_proxy, WSS_PROXY, then https_proxy, HTTPS_PROXY
//    and finally all_proxy, ALL_PROXY.
//    Uppercase HTTP_PROXY is where we part from curl, which never reads it
//    (httpoxy: a CGI program gets HTTP_PROXY from a client's "Proxy:"
//    request header). Operators set it, the product contract names it, and
//    an agent is not a CGI program, so we read it the way Go's net/http
//    does: except when REQUEST_METHOD says we run under CGI.
// 4. The chosen value is parsed with url::ParseProxyUrl (http:// only).
//
// The agent link maps onto curl's schemes with ProxySchemeFor(): ws:// is
// ws, wss:// is wss, and the plain HOST:PORT link (TLS or not) is https,
// since CONNECT carries it as an opaque tunnel exactly like an https
// origin, and the http rule exists for proxies that forward plain HTTP
// requests, which our TCP link is not.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/transport/url/proxy_url.h"
#include "common/transport/url/server_address.h"

namespace reitunnel::transport {

enum class ProxyTargetScheme { kHttp, kHttps, kWs, kWss };

ProxyTargetScheme ProxySchemeFor(const url::ServerAddress& server);

// Variable name -> value, matched case-sensitively like getenv().
using ProxyEnv = std::map<std::string, std::string, std::less<>>;

// The variables SelectProxy reads, taken from the process environment.
ProxyEnv ProxyEnvFromProcess();

struct ProxyChoice {
  std::optional<url::ProxyUrl> proxy;  // nullopt: connect directly
  // What decided, for logs: "--proxy", "https_proxy", "NO_PROXY", ...;
  // empty when nothing was configured. Never the value.
  std::string source;
};

// `proxy_flag`: the --proxy value when given (even empty). Errors name the
// variable or flag, never its value.
absl::StatusOr<ProxyChoice> SelectProxy(ProxyTargetScheme scheme, std::string_view target_host,
                                        const std::optional<std::string>& proxy_flag,
                                        const ProxyEnv& env);

// curl's NO_PROXY match of `host` (IPv6 without brackets) against a list:
// "*" alone matches everything; otherwise comma-separated entries with
// optional blanks around them (a blank without a comma ends the list, as in
// curl). Host names match an entry equal to them or a domain suffix at a
// dot ("example.com" and ".example.com" both match "www.example.com", not
// "notexample.com"), case-insensitively, trailing dots ignored. IP
// addresses match IP entries only, as addresses or CIDR ranges
// ("10.0.0.0/8", "fd00::/8"); ports are never part of the match.
bool NoProxyMatches(std::string_view host, std::string_view no_proxy);

}  // namespace reitunnel::transport
