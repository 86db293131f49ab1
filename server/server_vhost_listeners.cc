// The shared listeners of http: and tls: tunnels (--http-listen,
// --sni-listen): the parts of Server that issue 12 adds.

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "server/listen_address.h"
#include "server/server.h"
#include "server/vhost/vhost_listener.h"

namespace reitunnel::server {

std::string Server::http_listen_addr() const {
  return http_listener_ ? http_listener_->address() : "";
}

std::string Server::sni_listen_addr() const {
  return sni_listener_ ? sni_listener_->address() : "";
}

absl::Status Server::StartVhostListeners() {
  const auto& v = cfg_.vhost();
  struct Wanted {
    const std::string& address;
    vhost::VhostListener::Mode mode;
    const char* what;
    std::unique_ptr<vhost::VhostListener>* listener;
  };
  for (const Wanted& w :
       {Wanted{v.http_listen(), vhost::VhostListener::Mode::kHttp, "HTTP", &http_listener_},
        Wanted{v.sni_listen(), vhost::VhostListener::Mode::kTls, "TLS (SNI)", &sni_listener_}}) {
    if (w.address.empty()) continue;
    const std::string what = absl::StrCat(w.what, " listen address");
    auto endpoint = ResolveListenAddress(w.address, what.c_str());
    if (!endpoint.ok()) return endpoint.status();
    const bool http = w.mode == vhost::VhostListener::Mode::kHttp;
    // The router exists before the listener reads from it; its address is
    // filled in once bound (no session exists yet).
    if (http) {
      routes_.EnableHttp("", 0);
    } else {
      routes_.EnableTls("", 0);
    }
    vhost::VhostListener::Options options;
    options.mode = w.mode;
    options.head_timeout = std::chrono::milliseconds(v.head_timeout_ms());
    options.max_head_bytes = v.max_head_bytes();
    *w.listener = std::make_unique<vhost::VhostListener>(
        options, &workers_, http ? routes_.http() : routes_.tls(), &vhost_admission_);
    if (auto st = (*w.listener)->Listen(*endpoint); !st.ok()) {
      return absl::Status(st.code(), absl::StrCat("cannot listen for ", w.what, " visitors on ",
                                                  w.address, ": ", st.message()));
    }
    if (http) {
      routes_.SetHttpAddress((*w.listener)->address(), (*w.listener)->port());
    } else {
      routes_.SetTlsAddress((*w.listener)->address(), (*w.listener)->port());
    }
    log::Info(http ? "http_listener_ready" : "sni_listener_ready",
              absl::StrCat("listening for ", w.what, " visitors of routed tunnels"),
              {{"addr", (*w.listener)->address()}});
  }
  return absl::OkStatus();
}

void Server::CloseVhostListeners() {
  if (http_listener_) http_listener_->Close();
  if (sni_listener_) sni_listener_->Close();
}

}  // namespace reitunnel::server
