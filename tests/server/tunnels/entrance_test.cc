// The tunnel-kind seam: MakeEntrance picks the kind's entrance or refuses
// what this server or session cannot serve, and a host entrance reserves a
// name (metadata for the hook) but refuses one that is already claimed.

#include "server/tunnels/entrance.h"

#include <memory>
#include <optional>

#include "asio/co_spawn.hpp"
#include "asio/detached.hpp"
#include "asio/io_context.hpp"
#include "gtest/gtest.h"
#include "server/vhost/routes.h"

namespace reitunnel::server {
namespace {

class EntranceTest : public ::testing::Test {
 protected:
  EntranceContext Context() {
    EntranceContext ctx;
    ctx.deps = &deps_;
    ctx.agent = &agent_;
    ctx.name = "web";
    return ctx;
  }
  wire::v1::OpenTunnel Request(wire::v1::TunnelKind kind, const std::string& hostname = "") {
    wire::v1::OpenTunnel req;
    req.set_name("web");
    req.set_kind(kind);
    req.set_hostname(hostname);
    return req;
  }
  // Runs `entrance->Reserve` to completion.
  std::optional<Refusal> Reserve(Entrance& entrance, TunnelInfo* ti) {
    asio::io_context io;
    std::optional<Refusal> out;
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          out = co_await entrance.Reserve(ti);
          done = true;
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run();
    EXPECT_TRUE(done);
    return out;
  }

  SessionSettings settings_;
  SessionDeps deps_{.settings = &settings_};
  AgentInfo agent_;
};

TEST_F(EntranceTest, RefusesKindsTheServerOrSessionCannotServe) {
  Refusal refusal;
  // No --http-listen / --sni-listen: no router.
  EXPECT_EQ(MakeEntrance(Request(wire::v1::TUNNEL_KIND_HTTP, "a.example"), Context(), &refusal),
            nullptr);
  EXPECT_EQ(refusal.code, wire::v1::REFUSAL_CODE_BAD_REQUEST);
  EXPECT_NE(refusal.reason.find("--http-listen"), std::string::npos) << refusal.reason;
  EXPECT_EQ(MakeEntrance(Request(wire::v1::TUNNEL_KIND_TLS, "a.example"), Context(), &refusal),
            nullptr);
  EXPECT_NE(refusal.reason.find("--sni-listen"), std::string::npos) << refusal.reason;
  // UDP needs framed links.
  EXPECT_EQ(MakeEntrance(Request(wire::v1::TUNNEL_KIND_UDP), Context(), &refusal), nullptr);
  EXPECT_NE(refusal.reason.find("framed"), std::string::npos) << refusal.reason;
  agent_.features.push_back("framed_relay");
  EXPECT_NE(MakeEntrance(Request(wire::v1::TUNNEL_KIND_UDP), Context(), &refusal), nullptr);
  // A kind from a newer agent.
  EXPECT_EQ(MakeEntrance(Request(static_cast<wire::v1::TunnelKind>(99)), Context(), &refusal),
            nullptr);
  EXPECT_NE(refusal.reason.find("not supported"), std::string::npos) << refusal.reason;
  // An old agent's request has no kind: TCP.
  EXPECT_NE(MakeEntrance(Request(wire::v1::TUNNEL_KIND_UNSPECIFIED), Context(), &refusal),
            nullptr);
}

TEST_F(EntranceTest, HostEntranceDescribesTheNameAndRefusesOneTaken) {
  vhost::Routes routes;
  routes.EnableHttp("127.0.0.1:8080", 8080);
  deps_.routes = &routes;
  Refusal refusal;
  auto entrance =
      MakeEntrance(Request(wire::v1::TUNNEL_KIND_HTTP, "App.Example.com"), Context(), &refusal);
  ASSERT_NE(entrance, nullptr) << refusal.reason;
  TunnelInfo ti;
  EXPECT_EQ(Reserve(*entrance, &ti), std::nullopt);
  EXPECT_EQ(ti.remote_port, 8080);
  EXPECT_EQ(ti.public_addr, "127.0.0.1:8080");
  EXPECT_EQ(ti.metadata["kind"], "http");
  EXPECT_EQ(ti.metadata["hostname"], "app.example.com");  // canonical

  ASSERT_TRUE(routes.http()->Claim("*.example.com", "other-tunnel", vhost::Route()).ok());
  auto wildcard =
      MakeEntrance(Request(wire::v1::TUNNEL_KIND_HTTP, "*.example.com"), Context(), &refusal);
  ASSERT_NE(wildcard, nullptr);
  TunnelInfo ti2;
  std::optional<Refusal> taken = Reserve(*wildcard, &ti2);
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->code, wire::v1::REFUSAL_CODE_HOSTNAME_IN_USE);

  auto bad = MakeEntrance(Request(wire::v1::TUNNEL_KIND_HTTP, "no_such host"), Context(), &refusal);
  ASSERT_NE(bad, nullptr);
  TunnelInfo ti3;
  std::optional<Refusal> invalid = Reserve(*bad, &ti3);
  ASSERT_TRUE(invalid.has_value());
  EXPECT_EQ(invalid->code, wire::v1::REFUSAL_CODE_BAD_REQUEST);
}

}  // namespace
}  // namespace reitunnel::server
