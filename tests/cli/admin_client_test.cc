// Error mapping, and reitunnelctl against an in-process fake admin API:
// credentials, pagination, --limit, not found, JSON output, exit codes.

#include "cli/admin_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/run.h"
#include "gmock/gmock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "reitunnel/admin/v1/admin.grpc.pb.h"
#include "yaml-cpp/yaml.h"

namespace reitunnel::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
namespace v1 = ::reitunnel::admin::v1;

constexpr char kToken[] = "t0ken-Secret-42";

Outcome Map(grpc::StatusCode code, const std::string& msg, bool token_given = true) {
  return MapRpcError(grpc::Status(code, msg), "127.0.0.1:7001", "ListTunnels",
                     "no tunnel with id \"abc\"", token_given, absl::Seconds(5));
}

TEST(MapRpcErrorTest, UnreachableIsExitThree) {
  Outcome o = Map(grpc::StatusCode::UNAVAILABLE,
                  "failed to connect to all addresses; last error: UNKNOWN: "
                  "ipv4:127.0.0.1:7001: Failed to connect to remote host: Connection refused");
  EXPECT_EQ(o.exit_code, kExitUnreachable);
  EXPECT_EQ(o.message, "cannot reach admin API at 127.0.0.1:7001: connection refused");
  o = Map(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
  EXPECT_EQ(o.exit_code, kExitUnreachable);
  EXPECT_THAT(o.message, HasSubstr("did not answer within 5s"));
}

TEST(MapRpcErrorTest, CredentialsRefusedIsExitThree) {
  Outcome o = Map(grpc::StatusCode::UNAUTHENTICATED, "bad token");
  EXPECT_EQ(o.exit_code, kExitUnreachable);
  EXPECT_EQ(o.message, "admin API refused the credentials (UNAUTHENTICATED)");
  o = Map(grpc::StatusCode::UNAUTHENTICATED, "", /*token_given=*/false);
  EXPECT_EQ(o.exit_code, kExitUnreachable);
  EXPECT_THAT(o.message, HasSubstr("no token given"));
  EXPECT_EQ(Map(grpc::StatusCode::PERMISSION_DENIED, "x").exit_code, kExitUnreachable);
}

TEST(MapRpcErrorTest, NotFoundAndOthersAreExitOne) {
  Outcome o = Map(grpc::StatusCode::NOT_FOUND, "tunnel abc");
  EXPECT_EQ(o.exit_code, kExitError);
  EXPECT_EQ(o.message, "no tunnel with id \"abc\"");
  o = Map(grpc::StatusCode::UNIMPLEMENTED, "");
  EXPECT_EQ(o.exit_code, kExitError);
  EXPECT_THAT(o.message, HasSubstr("does not implement ListTunnels"));
  // A server-side INVALID_ARGUMENT is not a usage error of the CLI.
  o = Map(grpc::StatusCode::INVALID_ARGUMENT, "bad selector\nsecond line");
  EXPECT_EQ(o.exit_code, kExitError);
  EXPECT_EQ(o.message, "ListTunnels failed (INVALID_ARGUMENT): bad selector second line");
  EXPECT_EQ(Map(grpc::StatusCode::INTERNAL, "boom").exit_code, kExitError);
}

TEST(DescribeTransportErrorTest, Causes) {
  EXPECT_EQ(DescribeTransportError("... Connection refused"), "connection refused");
  EXPECT_EQ(DescribeTransportError("DNS resolution failed for nohost:1"),
            "cannot resolve the host name");
  EXPECT_THAT(DescribeTransportError("Ssl handshake failed: SSL_ERROR_SSL"), HasSubstr("TLS"));
  EXPECT_EQ(DescribeTransportError(""), "unavailable");
  EXPECT_EQ(DescribeTransportError("weird\nthing"), "weird thing");
}

// A fake admin API: 5 tunnels served 2 per page, one client, a token check.
class FakeAdmin final : public v1::AdminService::Service {
 public:
  FakeAdmin() {
    for (int i = 0; i < 5; ++i) {
      v1::Tunnel t;
      t.set_tunnel_id(absl::StrCat("tun", i));
      t.set_name(absl::StrCat("web", i));
      t.set_client_id("cli0");
      t.set_remote_port(20000 + i);
      t.set_local_addr("127.0.0.1:8080");
      t.set_bytes_in(1024 * 1024 * static_cast<uint64_t>(i));
      tunnels_.push_back(t);
    }
  }

  grpc::Status ListTunnels(grpc::ServerContext* ctx, const v1::ListTunnelsRequest* req,
                           v1::ListTunnelsResponse* resp) override {
    if (grpc::Status st = Auth(ctx); !st.ok()) return st;
    {
      std::lock_guard<std::mutex> lock(mu_);
      list_requests_.push_back(*req);
    }
    std::vector<v1::Tunnel> all = tunnels_;
    if (req->include_not_open()) {
      // A tunnel the agent asked for that the server refused.
      v1::Tunnel t;
      t.set_name("blocked");
      t.set_client_id("cli0");
      t.set_state("refused");
      t.set_requested_port(20080);
      t.set_attempts(3);
      t.set_last_error("PORT_IN_USE: port 20080 is already in use");
      all.push_back(t);
    }
    const std::size_t page =
        std::min<std::size_t>(req->page_size() == 0 ? 100 : req->page_size(), 2);
    std::size_t start = req->page_token().empty() ? 0 : std::stoul(req->page_token());
    for (std::size_t i = start; i < all.size() && i < start + page; ++i) {
      *resp->add_tunnels() = all[i];
    }
    if (start + page < all.size()) resp->set_next_page_token(std::to_string(start + page));
    resp->set_total_size(static_cast<uint32_t>(all.size()));
    return grpc::Status::OK;
  }

  grpc::Status ListClients(grpc::ServerContext* ctx, const v1::ListClientsRequest*,
                           v1::ListClientsResponse* resp) override {
    if (grpc::Status st = Auth(ctx); !st.ok()) return st;
    v1::Client* c = resp->add_clients();
    c->set_client_id("cli0");
    c->set_identity("10.0.0.9");
    c->set_agent_id("edge-1");
    resp->set_total_size(1);
    return grpc::Status::OK;
  }

  grpc::Status GetClient(grpc::ServerContext* ctx, const v1::GetClientRequest* req,
                         v1::Client* resp) override {
    if (grpc::Status st = Auth(ctx); !st.ok()) return st;
    if (req->client_id() != "cli0") return grpc::Status(grpc::StatusCode::NOT_FOUND, "no");
    resp->set_client_id("cli0");
    resp->set_identity("10.0.0.9");
    return grpc::Status::OK;
  }

  grpc::Status CloseTunnel(grpc::ServerContext* ctx, const v1::CloseTunnelRequest* req,
                           v1::CloseTunnelResponse*) override {
    if (grpc::Status st = Auth(ctx); !st.ok()) return st;
    std::lock_guard<std::mutex> lock(mu_);
    closes_.push_back(*req);
    return grpc::Status::OK;
  }

  grpc::Status ListBans(grpc::ServerContext* ctx, const v1::ListBansRequest*,
                        v1::ListBansResponse* resp) override {
    if (grpc::Status st = Auth(ctx); !st.ok()) return st;
    if (no_bans_) return grpc::Status::OK;
    v1::Ban* agent = resp->add_bans();
    agent->set_identity("10.0.0.7");
    agent->set_reason("abuse report");
    agent->mutable_until()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 3600);
    v1::Ban* tunnel = resp->add_bans();
    tunnel->set_identity("edge-1");
    tunnel->set_tunnel_name("web");
    tunnel->set_reason("closed by admin");
    tunnel->mutable_until()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 90);
    return grpc::Status::OK;
  }

  grpc::Status RemoveBan(grpc::ServerContext* ctx, const v1::RemoveBanRequest* req,
                         v1::RemoveBanResponse*) override {
    if (grpc::Status st = Auth(ctx); !st.ok()) return st;
    std::lock_guard<std::mutex> lock(mu_);
    removes_.push_back(*req);
    if (req->identity() == "nobody") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such ban in force");
    }
    return grpc::Status::OK;
  }

  grpc::Status GetTunnel(grpc::ServerContext* ctx, const v1::GetTunnelRequest* req,
                         v1::Tunnel* resp) override {
    if (grpc::Status st = Auth(ctx); !st.ok()) return st;
    for (const auto& t : tunnels_) {
      if (t.tunnel_id() == req->tunnel_id()) {
        *resp = t;
        return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such tunnel");
  }

  grpc::Status DisconnectClient(grpc::ServerContext* ctx, const v1::DisconnectClientRequest* req,
                                v1::DisconnectClientResponse*) override {
    if (grpc::Status st = Auth(ctx); !st.ok()) return st;
    std::lock_guard<std::mutex> lock(mu_);
    kicks_.push_back(*req);
    return grpc::Status::OK;
  }

  grpc::Status WatchEvents(grpc::ServerContext* ctx, const v1::WatchEventsRequest* req,
                           grpc::ServerWriter<v1::Event>* writer) override {
    if (grpc::Status st = Auth(ctx); !st.ok()) return st;
    // --tunnel=stop / --tunnel=drop: the server goes away mid-stream.
    if (req->tunnel_id() == "stop" || req->tunnel_id() == "drop") {
      v1::Event e;
      e.set_type(req->tunnel_id() == "stop" ? "server_stop" : "tunnel_open");
      writer->Write(e);
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "Cancelling all calls");
    }
    for (const char* type : {"tunnel_open", "tunnel_close"}) {
      v1::Event e;
      e.set_type(type);
      e.set_client_id(req->client_id());
      e.set_allowed(true);
      writer->Write(e);
    }
    return grpc::Status::OK;  // the stream ends: the CLI exits 0
  }

  std::vector<v1::ListTunnelsRequest> list_requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return list_requests_;
  }
  std::vector<v1::DisconnectClientRequest> kicks() {
    std::lock_guard<std::mutex> lock(mu_);
    return kicks_;
  }
  std::vector<v1::CloseTunnelRequest> closes() {
    std::lock_guard<std::mutex> lock(mu_);
    return closes_;
  }
  std::vector<v1::RemoveBanRequest> removes() {
    std::lock_guard<std::mutex> lock(mu_);
    return removes_;
  }
  void set_no_bans() { no_bans_ = true; }

 private:
  grpc::Status Auth(grpc::ServerContext* ctx) {
    auto it = ctx->client_metadata().find("authorization");
    if (it == ctx->client_metadata().end() ||
        std::string(it->second.data(), it->second.size()) != absl::StrCat("Bearer ", kToken)) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or wrong token");
    }
    return grpc::Status::OK;
  }

  std::vector<v1::Tunnel> tunnels_;
  std::mutex mu_;
  std::vector<v1::ListTunnelsRequest> list_requests_;
  std::vector<v1::DisconnectClientRequest> kicks_;
  std::vector<v1::CloseTunnelRequest> closes_;
  std::vector<v1::RemoveBanRequest> removes_;
  std::atomic<bool> no_bans_{false};
};

struct RunResult {
  int code;
  std::string out;
  std::string err;
};

class FakeServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&fake_);
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_ != nullptr);
    ASSERT_NE(port, 0);
    addr_ = absl::StrCat("127.0.0.1:", port);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  RunResult RunCli(std::vector<std::string> argv, bool with_token = true) {
    argv.push_back("--admin=" + addr_);
    if (with_token) argv.push_back(absl::StrCat("--token=", kToken));
    std::ostringstream out, err;
    RunResult r;
    r.code =
        ::reitunnel::cli::Run(argv, out, err, [](const char*) -> const char* { return nullptr; });
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  FakeAdmin fake_;
  std::unique_ptr<grpc::Server> server_;
  std::string addr_;
};

TEST_F(FakeServerTest, ListFollowsEveryPage) {
  RunResult r = RunCli({"tunnels", "list", "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (int i = 0; i < 5; ++i) EXPECT_THAT(r.out, HasSubstr(absl::StrCat("\"tun", i, "\"")));
  EXPECT_THAT(r.out, HasSubstr("\"next_page_token\": \"\""));
  EXPECT_THAT(r.out, HasSubstr("\"total_size\": 5"));
  const auto reqs = fake_.list_requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].page_token(), "");
  EXPECT_EQ(reqs[1].page_token(), "2");
  EXPECT_EQ(reqs[2].page_token(), "4");
}

TEST_F(FakeServerTest, LimitStopsEarly) {
  RunResult r = RunCli({"tunnels", "list", "--limit=3", "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"tun2\""));
  EXPECT_THAT(r.out, Not(HasSubstr("\"tun3\"")));
  const auto reqs = fake_.list_requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].page_size(), 3u);
  EXPECT_EQ(reqs[1].page_size(), 1u);
}

TEST_F(FakeServerTest, PageSize) {
  RunResult r = RunCli({"tunnels", "list", "--page-size=1", "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"tun4\""));
  const auto reqs = fake_.list_requests();
  ASSERT_EQ(reqs.size(), 5u);
  for (const auto& req : reqs) EXPECT_EQ(req.page_size(), 1u);
  EXPECT_EQ(RunCli({"tunnels", "list", "--page-size=1001"}).code, kExitUsage);
  EXPECT_EQ(RunCli({"tunnels", "list", "--page-size=0"}).code, kExitUsage);
}

TEST_F(FakeServerTest, FiltersReachTheServer) {
  RunResult r =
      RunCli({"tunnels", "list", "--client=cli0", "--label=team=blue", "--label=env=prod"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto reqs = fake_.list_requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_EQ(reqs[0].client_id(), "cli0");
  EXPECT_EQ(reqs[0].label_selector(), "team=blue,env=prod");
}

TEST_F(FakeServerTest, TableOutput) {
  RunResult r = RunCli({"tunnels", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string header, first;
  std::getline(lines, header);
  std::getline(lines, first);
  EXPECT_THAT(header, StartsWith("ID     NAME   CLIENT   PORT    LOCAL            VISITORS   IN"));
  EXPECT_THAT(first, StartsWith("tun0   web0   cli0     20000   127.0.0.1:8080   0          0 B"));
  EXPECT_THAT(r.out, HasSubstr("4.0 MiB"));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 6);
}

TEST_F(FakeServerTest, ShowAndNotFound) {
  RunResult r = RunCli({"tunnels", "show", "tun1", "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"name\": \"web1\""));
  r = RunCli({"tunnels", "show", "abc"});
  EXPECT_EQ(r.code, kExitError);
  EXPECT_EQ(r.err, "reitunnelctl: no tunnel with id \"abc\"\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(FakeServerTest, MissingAndWrongTokenExitThreeWithoutTheSecret) {
  RunResult r = RunCli({"tunnels", "list"}, /*with_token=*/false);
  EXPECT_EQ(r.code, kExitUnreachable);
  EXPECT_THAT(r.err,
              StartsWith("reitunnelctl: admin API refused the credentials (UNAUTHENTICATED)"));
  std::ostringstream out, err;
  const int code =
      ::reitunnel::cli::Run({"tunnels", "list", "--admin=" + addr_, "--token=wrong-Secret-99"}, out,
                            err, [](const char*) -> const char* { return nullptr; });
  EXPECT_EQ(code, kExitUnreachable);
  EXPECT_EQ(err.str(), "reitunnelctl: admin API refused the credentials (UNAUTHENTICATED)\n");
  EXPECT_THAT(out.str() + err.str(), Not(HasSubstr("Secret")));
}

TEST_F(FakeServerTest, UnimplementedIsExitOne) {
  RunResult r = RunCli({"status"});
  EXPECT_EQ(r.code, kExitError);
  EXPECT_THAT(r.err, HasSubstr("does not implement GetServerInfo"));
}

TEST_F(FakeServerTest, KickSendsTheReason) {
  RunResult r = RunCli({"clients", "kick", "cli0", "--reason=maintenance"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "client cli0 disconnected\n");
  ASSERT_EQ(fake_.kicks().size(), 1u);
  EXPECT_EQ(fake_.kicks()[0].client_id(), "cli0");
  EXPECT_EQ(fake_.kicks()[0].reason(), "maintenance");
}

TEST_F(FakeServerTest, WatchPrintsJsonLines) {
  RunResult r = RunCli({"events", "watch", "--client=cli0", "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string l1, l2, l3;
  ASSERT_TRUE(std::getline(lines, l1));
  ASSERT_TRUE(std::getline(lines, l2));
  EXPECT_FALSE(std::getline(lines, l3));
  EXPECT_THAT(l1, StartsWith("{\"type\":\"tunnel_open\""));
  EXPECT_THAT(l1, HasSubstr("\"client_id\":\"cli0\""));
  EXPECT_THAT(l2, StartsWith("{\"type\":\"tunnel_close\""));
}

TEST_F(FakeServerTest, WatchEndsCleanlyAfterServerStop) {
  RunResult r = RunCli({"events", "watch", "--tunnel=stop", "-o", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("server_stop"));
  EXPECT_EQ(r.err, "");
}

TEST_F(FakeServerTest, WatchReportsALostConnection) {
  RunResult r = RunCli({"events", "watch", "--tunnel=drop", "-o", "json"});
  EXPECT_EQ(r.code, kExitUnreachable);
  EXPECT_THAT(r.out, HasSubstr("tunnel_open"));
  EXPECT_THAT(r.err, StartsWith("reitunnelctl: lost the connection to the admin API at "));
}

TEST_F(FakeServerTest, WatchTable) {
  RunResult r = RunCli({"events", "watch"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("TIME"));
  EXPECT_THAT(r.out, HasSubstr("tunnel_open"));
}

TEST_F(FakeServerTest, KickWithBanSendsSecondsAndNamesTheIdentity) {
  RunResult r = RunCli({"clients", "kick", "cli0", "--ban=1h", "--reason=abuse"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "client cli0 disconnected; 10.0.0.9 banned for 1h\n");
  ASSERT_EQ(fake_.kicks().size(), 1u);
  EXPECT_EQ(fake_.kicks()[0].ban_seconds(), 3600u);
  EXPECT_EQ(fake_.kicks()[0].reason(), "abuse");
  // Without --ban: no ban, and no extra call.
  r = RunCli({"clients", "kick", "cli0"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(fake_.kicks()[1].ban_seconds(), 0u);
  // An unknown agent is not found before anything is banned.
  r = RunCli({"clients", "kick", "nosuch", "--ban=1h"});
  EXPECT_EQ(r.code, kExitError);
  EXPECT_EQ(r.err, "reitunnelctl: no client with id \"nosuch\"\n");
  EXPECT_EQ(fake_.kicks().size(), 2u);
}

TEST_F(FakeServerTest, BadBanDurationIsUsageAndSendsNothing) {
  for (const char* bad : {"--ban=soon", "--ban=0s", "--ban=400d", "--ban=-1h"}) {
    RunResult r = RunCli({"clients", "kick", "cli0", bad});
    EXPECT_EQ(r.code, kExitUsage) << bad;
    EXPECT_THAT(r.err, HasSubstr("--ban wants a duration")) << bad;
    EXPECT_THAT(r.err, HasSubstr("clients kick --help")) << bad;
    r = RunCli({"tunnels", "close", "tun1", bad});
    EXPECT_EQ(r.code, kExitUsage) << bad;
  }
  EXPECT_TRUE(fake_.kicks().empty());
  EXPECT_TRUE(fake_.closes().empty());
}

TEST_F(FakeServerTest, CloseWithBan) {
  RunResult r = RunCli({"tunnels", "close", "tun1", "--ban=30m"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "tunnel tun1 closed; its name banned for this agent for 30m\n");
  ASSERT_EQ(fake_.closes().size(), 1u);
  EXPECT_EQ(fake_.closes()[0].tunnel_id(), "tun1");
  EXPECT_EQ(fake_.closes()[0].ban_seconds(), 1800u);
}

TEST_F(FakeServerTest, BansListAndRemove) {
  RunResult r = RunCli({"bans", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string header, agent, tunnel;
  std::getline(lines, header);
  std::getline(lines, agent);
  std::getline(lines, tunnel);
  EXPECT_THAT(header, StartsWith("IDENTITY   TUNNEL   REASON            EXPIRES"));
  EXPECT_THAT(agent, StartsWith("10.0.0.7   *        abuse report      "));
  EXPECT_THAT(agent, ::testing::AnyOf(HasSubstr("1h"), HasSubstr("59m")));
  EXPECT_THAT(tunnel, StartsWith("edge-1     web      closed by admin   "));

  r = RunCli({"bans", "list", "-o", "yaml"});
  ASSERT_EQ(r.code, 0) << r.err;
  YAML::Node n = YAML::Load(r.out);
  ASSERT_EQ(n["bans"].size(), 2u);
  EXPECT_EQ(n["bans"][1]["tunnel_name"].as<std::string>(), "web");

  r = RunCli({"bans", "remove", "edge-1", "--tunnel=web"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ban on tunnel \"web\" of agent edge-1 removed\n");
  ASSERT_EQ(fake_.removes().size(), 1u);
  EXPECT_EQ(fake_.removes()[0].identity(), "edge-1");
  EXPECT_EQ(fake_.removes()[0].tunnel_name(), "web");
  r = RunCli({"bans", "remove", "nobody"});
  EXPECT_EQ(r.code, kExitError);
  EXPECT_EQ(r.err, "reitunnelctl: no ban on agent nobody is in force\n");
  EXPECT_EQ(RunCli({"bans", "remove"}).code, kExitUsage);
}

TEST_F(FakeServerTest, ClientsListShowsTheBansBelowTheClients) {
  RunResult r = RunCli({"clients", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\nBANNED (refused until the ban expires"));
  EXPECT_LT(r.out.find("cli0"), r.out.find("BANNED"));
  EXPECT_THAT(r.out.substr(r.out.find("BANNED")), HasSubstr("10.0.0.7"));
  // JSON stays the ListClientsResponse document.
  r = RunCli({"clients", "list", "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("10.0.0.7")));
  // Wide: the identity bans apply to.
  r = RunCli({"clients", "list", "-o", "wide"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("AGENT-ID   IDENTITY"));
  EXPECT_THAT(r.out, HasSubstr("edge-1     10.0.0.9"));
  // No bans, no section.
  fake_.set_no_bans();
  r = RunCli({"clients", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("BANNED")));
}

TEST_F(FakeServerTest, TunnelsListAllShowsWhyATunnelIsNotOpen) {
  RunResult r = RunCli({"tunnels", "list", "--all"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_FALSE(fake_.list_requests().empty());
  EXPECT_TRUE(fake_.list_requests()[0].include_not_open());
  std::istringstream lines(r.out);
  std::string header, line, last;
  std::getline(lines, header);
  while (std::getline(lines, line)) last = line;
  EXPECT_THAT(header, StartsWith("ID     NAME      CLIENT   STATE     PORT"));
  EXPECT_THAT(header, ::testing::EndsWith("LAST ERROR"));
  EXPECT_THAT(last, StartsWith("-      blocked   cli0     refused   20080"));
  EXPECT_THAT(last, ::testing::EndsWith("PORT_IN_USE: port 20080 is already in use"));
  // Without --all: open tunnels only, the usual columns.
  r = RunCli({"tunnels", "list"});
  EXPECT_THAT(r.out, Not(HasSubstr("blocked")));
  EXPECT_THAT(r.out, Not(HasSubstr("STATE")));
  EXPECT_FALSE(fake_.list_requests().back().include_not_open());
  // Wide adds columns after the usual ones.
  r = RunCli({"tunnels", "list", "-o", "wide"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("AGE   KIND   REQUESTED   ATTEMPTS   TOTAL   OPENED"));
}

TEST_F(FakeServerTest, YamlListIsOneDocumentWithEveryPage) {
  RunResult r = RunCli({"tunnels", "list", "-o", "yaml"});
  ASSERT_EQ(r.code, 0) << r.err;
  YAML::Node n = YAML::Load(r.out);
  ASSERT_EQ(n["tunnels"].size(), 5u);
  EXPECT_EQ(n["tunnels"][4]["bytes_in"].as<uint64_t>(), 4u * 1024 * 1024);
  EXPECT_EQ(n["total_size"].as<int>(), 5);
  EXPECT_EQ(n["next_page_token"].as<std::string>(), "");
}

TEST_F(FakeServerTest, WatchKeepsOnlyTheTypesAsked) {
  RunResult r = RunCli({"events", "watch", "--type=tunnel_close", "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("{\"type\":\"tunnel_close\""));
  EXPECT_THAT(r.out, Not(HasSubstr("tunnel_open")));
  r = RunCli({"events", "watch", "--type=tunnel_open,tunnel_close", "-o", "yaml"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<YAML::Node> docs = YAML::LoadAll(r.out);
  ASSERT_EQ(docs.size(), 2u) << r.out;
  EXPECT_EQ(docs[0]["type"].as<std::string>(), "tunnel_open");
  EXPECT_EQ(docs[1]["type"].as<std::string>(), "tunnel_close");
  r = RunCli({"events", "watch", "--type=tunnel_opened"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("unknown event type \"tunnel_opened\""));
  // server_stop filtered out still ends the watch cleanly.
  r = RunCli({"events", "watch", "--tunnel=stop", "--type=error"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(UnreachableTest, ConnectionRefusedIsExitThree) {
  // Bound but not listening: connections are refused, and nobody else can
  // take the port meanwhile.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  socklen_t len = sizeof(sa);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  const int port = ntohs(sa.sin_port);
  std::ostringstream out, err;
  const int code = ::reitunnel::cli::Run(
      {"tunnels", "list", absl::StrCat("--admin=127.0.0.1:", port), "--token=abc-Secret"}, out, err,
      [](const char*) -> const char* { return nullptr; });
  EXPECT_EQ(code, kExitUnreachable);
  EXPECT_EQ(err.str(), absl::StrCat("reitunnelctl: cannot reach admin API at 127.0.0.1:", port,
                                    ": connection refused\n"));
  ::close(fd);
}

TEST(TlsFilesTest, UnreadableCaIsExitOne) {
  std::ostringstream out, err;
  const int code = ::reitunnel::cli::Run({"status", "--tls-ca=/nonexistent/ca.pem"}, out, err,
                                         [](const char*) -> const char* { return nullptr; });
  EXPECT_EQ(code, kExitError);
  EXPECT_THAT(err.str(), HasSubstr("cannot read --tls-ca file /nonexistent/ca.pem"));
}

}  // namespace
}  // namespace reitunnel::cli
