#include "server/cluster_mode/announced_address.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace reitunnel::server {

std::optional<std::string> ResolveOwnHostAddress(int family) {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return std::nullopt;
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(name, nullptr, &hints, &res) != 0 || res == nullptr) return std::nullopt;
  char ip[NI_MAXHOST] = {};
  const int rc =
      getnameinfo(res->ai_addr, res->ai_addrlen, ip, sizeof(ip), nullptr, 0, NI_NUMERICHOST);
  freeaddrinfo(res);
  if (rc != 0) return std::nullopt;
  return std::string(ip);
}

std::string AnnouncedAddress(const std::string& bound, const HostAddressResolver& resolve) {
  const size_t colon = bound.rfind(':');
  if (colon == std::string::npos) return bound;
  const std::string host = bound.substr(0, colon);
  if (host != "0.0.0.0" && host != "[::]" && host != "::" && !host.empty()) return bound;
  std::optional<std::string> ip = resolve(host == "0.0.0.0" ? AF_INET : AF_UNSPEC);
  if (!ip || ip->empty()) return bound;
  const bool v6 = ip->find(':') != std::string::npos;
  return absl::StrCat(v6 ? "[" : "", *ip, v6 ? "]" : "", bound.substr(colon));
}

}  // namespace reitunnel::server
