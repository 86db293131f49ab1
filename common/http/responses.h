#pragma once

// Complete short responses the routing front end sends itself, then closes:
// status line, Content-Type, Content-Length, Connection: close and a fixed
// body. Bodies never echo request input (no reflected content, nothing for a
// cache or a browser to misinterpret).

#include <string>
#include <string_view>

namespace reitunnel::http {

// 400 malformed request, 404 unknown host, 405 CONNECT, 408 head timeout,
// 414/431 oversized head, 421 misdirected, 502 the tunnel's local service is
// unreachable, 503 the tunnel is at its limit, 505 version; any other status
// gets its standard reason phrase as the body.
std::string ErrorResponse(int status);

// 401 with `WWW-Authenticate: Basic realm="<realm>", charset="UTF-8"`. The
// realm is configuration, but is still reduced to printable ASCII without
// quotes or backslashes; empty becomes "reitunnel".
std::string UnauthorizedResponse(std::string_view realm);

}  // namespace reitunnel::http
