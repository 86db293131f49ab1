#pragma once

// http and tls tunnels: a host name (or wildcard) claimed on the shared
// --http-listen / --sni-listen listener, whose connections are handed to
// the tunnel's shard on the worker that accepted them (server/vhost/).

#include <memory>
#include <string>

#include "server/tunnels/entrance.h"
#include "server/vhost/routes.h"

namespace reitunnel::server {

class HostEntrance final : public Entrance {
 public:
  // `routes` has the listener of this kind (http or tls); `req` carries the
  // hostname and the HTTP options.
  HostEntrance(EntranceContext ctx, vhost::Routes* routes, bool http,
               const wire::v1::OpenTunnel& req);

  asio::awaitable<std::optional<Refusal>> Reserve(TunnelInfo* ti) override;
  asio::awaitable<std::optional<Refusal>> Start(std::shared_ptr<TunnelCore> core) override;
  void StopReaching() override;
  asio::awaitable<void> Release() override;

 private:
  EntranceContext ctx_;
  vhost::Routes* routes_;
  vhost::Router* router_;
  bool http_;
  wire::v1::OpenTunnel req_;
  std::string hostname_;  // canonical pattern
  std::string owner_;     // the tunnel id, once started
  std::shared_ptr<vhost::RoutedTunnel> routed_;
};

}  // namespace reitunnel::server
