#include "server/exposure_warnings.h"

#include "absl/strings/str_cat.h"
#include "asio/ip/address.hpp"
#include "common/config/parse.h"

namespace reitunnel::server {

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  asio::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

namespace {

bool Exposed(const std::string& hostport) {
  auto hp = config::ParseHostPort(hostport);
  return hp.ok() && !IsLoopbackHost(hp->host);
}

}  // namespace

std::vector<std::string> ExposureWarnings(const config::v1::ServerConfig& cfg) {
  std::vector<std::string> out;
  if (Exposed(cfg.listen()) && cfg.tls().cert_file().empty()) {
    out.push_back(absl::StrCat("the agent listener ", cfg.listen(),
                               " is reachable beyond this host without TLS (--tls-cert): "
                               "tunnel traffic and agent metadata travel in clear"));
  }
  if (Exposed(cfg.admin()) && cfg.admin_api().cert_file().empty()) {
    out.push_back(absl::StrCat("the admin API ", cfg.admin(),
                               " is reachable beyond this host without TLS (--admin-tls-cert): "
                               "its bearer token travels in clear"));
  }
  if (!cfg.metrics().empty() && Exposed(cfg.metrics())) {
    out.push_back(absl::StrCat("metrics ", cfg.metrics(),
                               " are served beyond this host without TLS or authentication"));
  }
  return out;
}

}  // namespace reitunnel::server
