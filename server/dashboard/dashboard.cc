#include "server/dashboard/dashboard.h"

#include <pthread.h>

#include "absl/strings/str_cat.h"
#include "asio/executor_work_guard.hpp"
#include "asio/post.hpp"
#include "asio/use_awaitable.hpp"
#include "common/net/spawn.h"
#include "server/server.h"

namespace reitunnel::server::dashboard {

namespace {

// The admin API's TLS, for a browser: the admin certificate and key, and
// with a client CA, certificates verified when presented but not required
// (the token login is the other way in, as on the admin API).
absl::StatusOr<net::SslCtxPtr> MakeTls(const config::v1::AdminConfig& a) {
  if (a.cert_file().empty()) return net::SslCtxPtr();
  auto ctx = net::MakeServerTlsContext({a.cert_file(), a.key_file(), ""});
  if (!ctx.ok()) return ctx.status();
  if (!a.client_ca_file().empty()) {
    SSL_CTX* c = ctx->get();
    if (SSL_CTX_load_verify_locations(c, a.client_ca_file().c_str(), nullptr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot load admin client CA ", a.client_ca_file(), ": ", net::TakeOpenSslError()));
    }
    // Tells browsers which certificates to offer.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(a.client_ca_file().c_str())) {
      SSL_CTX_set_client_CA_list(c, names);
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    // Session resumption with client verification needs a context id.
    static const unsigned char kSessionContext[] = "reitunnel-dashboard";
    SSL_CTX_set_session_id_context(c, kSessionContext, sizeof(kSessionContext) - 1);
  }
  return ctx;
}

}  // namespace

Dashboard::Dashboard(Server& server, asio::any_io_executor control, DashboardOptions options)
    : server_(server),
      o_(std::move(options)),
      events_(std::make_shared<EventLog>()),
      recorder_(std::move(control), server.hooks(), events_),
      sessions_(o_.sessions),
      throttle_(o_.login_throttle),
      auth_(o_.admin_token, !o_.admin_api.client_ca_file().empty(), &sessions_),
      source_(server, o_.addresses, &history_, events_.get(), &recorder_,
              static_cast<uint32_t>(o_.sample_period.count())),
      handler_(&auth_, &source_, &throttle_, !o_.admin_api.cert_file().empty()),
      sample_timer_(io_) {}

absl::StatusOr<std::unique_ptr<Dashboard>> Dashboard::Start(Server& server,
                                                            asio::any_io_executor control,
                                                            DashboardOptions options) {
  if (options.admin_token.empty() && options.admin_api.client_ca_file().empty()) {
    return absl::InvalidArgumentError(
        "--dashboard needs admin credentials: an admin token or admin_api.client_ca_file");
  }
  auto tls = MakeTls(options.admin_api);
  if (!tls.ok()) return tls.status();
  auto d = std::unique_ptr<Dashboard>(new Dashboard(server, std::move(control), std::move(options)));
  d->tls_ = std::move(*tls);
  DashboardHandler* handler = &d->handler_;
  auto http = HttpServer::Listen(d->io_.get_executor(), d->o_.address, d->tls_.get(),
                                 [handler](const HttpRequest& req) { return handler->Handle(req); });
  if (!http.ok()) return http.status();
  d->http_ = std::move(*http);
  d->http_->Start();
  net::Spawn(d->io_.get_executor(), d->SampleLoop(), "dashboard_sampler");
  Dashboard* self = d.get();
  d->thread_ = std::thread([self] {
    pthread_setname_np(pthread_self(), "rt-dashboard");
    auto guard = asio::make_work_guard(self->io_);
    self->io_.run();
  });
  return d;
}

Dashboard::~Dashboard() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
  // The loop no longer runs: close sockets here, then destroy the pending
  // coroutines while everything they refer to still exists.
  if (http_) http_->Stop();
  io_.shutdown();
}

asio::awaitable<void> Dashboard::SampleLoop() {
  for (;;) {
    history_.Record(std::chrono::steady_clock::now(), std::chrono::system_clock::now(),
                    ServerSource::ReadCounters(server_));
    recorder_.DetachIfIdle(std::chrono::steady_clock::now());
    sample_timer_.expires_after(o_.sample_period);
    co_await sample_timer_.async_wait(asio::use_awaitable);
  }
}

}  // namespace reitunnel::server::dashboard
