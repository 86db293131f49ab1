#include "server/tunnels/entrance.h"

#include "server/tunnels/host_entrance.h"
#include "server/tunnels/port_entrance.h"

namespace reitunnel::server {

std::unique_ptr<Entrance> MakeEntrance(const wire::v1::OpenTunnel& req, EntranceContext ctx,
                                       Refusal* refusal) {
  switch (req.kind()) {
    case wire::v1::TUNNEL_KIND_UNSPECIFIED:
    case wire::v1::TUNNEL_KIND_TCP:
      return std::make_unique<PortEntrance>(std::move(ctx), req.remote_port(), /*udp=*/false);
    case wire::v1::TUNNEL_KIND_UDP:
      // Datagrams travel as chunks on reusable links.
      if (!ctx.agent->HasFeature("framed_relay")) {
        *refusal = {wire::v1::REFUSAL_CODE_BAD_REQUEST,
                    "udp tunnels need an agent with framed data connections"};
        return nullptr;
      }
      return std::make_unique<PortEntrance>(std::move(ctx), req.remote_port(), /*udp=*/true);
    case wire::v1::TUNNEL_KIND_HTTP:
    case wire::v1::TUNNEL_KIND_TLS: {
      const bool http = req.kind() == wire::v1::TUNNEL_KIND_HTTP;
      vhost::Routes* routes = ctx.deps->routes;
      if (!routes || !(http ? routes->http() : routes->tls())) {
        *refusal = {wire::v1::REFUSAL_CODE_BAD_REQUEST,
                    http ? "this server serves no http tunnels (start it with --http-listen)"
                         : "this server serves no tls tunnels (start it with --sni-listen)"};
        return nullptr;
      }
      return std::make_unique<HostEntrance>(std::move(ctx), routes, http, req);
    }
    default:
      *refusal = {wire::v1::REFUSAL_CODE_BAD_REQUEST,
                  "tunnel kind not supported by this server (tcp, udp, http, tls)"};
      return nullptr;
  }
}

}  // namespace reitunnel::server
