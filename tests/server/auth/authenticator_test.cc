#include "server/auth/authenticator.h"

#include "absl/strings/escaping.h"
#include "common/wire/auth.h"
#include "gtest/gtest.h"

namespace reitunnel::server {
namespace {

using CS = Authenticator::CredentialState;
constexpr char kShared[] = "shared-token-0123456789";
constexpr char kOwn[] = "db7-own-token-abcdef";

std::string Hex(const std::string& b) { return absl::BytesToHexString(b); }

config::v1::ServerConfig ConfigWith(const std::string& id, const std::string& token,
                                    std::map<std::string, std::string> labels = {},
                                    std::vector<std::string> ports = {}) {
  config::v1::ServerConfig cfg;
  auto* a = cfg.add_agents();
  a->set_id(id);
  a->set_token_sha256(Hex(wire::IdentityKey(token)));
  a->mutable_labels()->insert(labels.begin(), labels.end());
  for (const auto& p : ports) a->add_allowed_ports(p);
  return cfg;
}

std::shared_ptr<const AgentDirectory> Dir(const config::v1::ServerConfig& cfg) {
  auto d = AgentDirectory::Build(cfg);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : nullptr;
}

// The Hello an agent sends (client/agent.cc does the same).
wire::v1::Hello HelloFor(const std::string& token, const std::string& agent_id,
                         const std::string& nonce) {
  wire::v1::Hello h;
  h.set_kind(wire::v1::CONNECTION_KIND_CONTROL);
  h.set_agent_id(agent_id);
  h.set_mac(wire::HandshakeMac(wire::AgentProofKey(token, agent_id),
                               wire::v1::CONNECTION_KIND_CONTROL, nonce, agent_id));
  return h;
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  std::string nonce_ = wire::RandomBytes(wire::kNonceSize);
};

TEST_F(AuthenticatorTest, SharedTokenStillWorks) {
  Authenticator auth(kShared, Dir(ConfigWith("db-7", kOwn)));
  auto r = auth.VerifyControl(HelloFor(kShared, "", nonce_), nonce_);
  ASSERT_TRUE(r.ok);
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.key, kShared);
  EXPECT_EQ(auth.State(r.credential, "", false), CS::kValid);
  EXPECT_FALSE(auth.VerifyControl(HelloFor("wrong", "", nonce_), nonce_).ok);
}

TEST_F(AuthenticatorTest, OwnTokenVerifiesTheIdWithConfiguredTerms) {
  Authenticator auth(kShared, Dir(ConfigWith("db-7", kOwn, {{"team", "blue"}}, {"20080"})));
  auto r = auth.VerifyControl(HelloFor(kOwn, "db-7", nonce_), nonce_);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.verified);
  EXPECT_EQ(r.agent_id, "db-7");
  EXPECT_EQ(r.key, wire::IdentityKey(kOwn));
  EXPECT_EQ(r.labels, (std::map<std::string, std::string>{{"team", "blue"}}));
  ASSERT_EQ(r.allowed_ports.size(), 1u);
  EXPECT_EQ(r.allowed_ports[0].low, 20080);
  EXPECT_EQ(auth.State(r.credential, "db-7", true), CS::kValid);
}

TEST_F(AuthenticatorTest, WrongTokenForAnIdAndSharedTokenCannotClaimIt) {
  Authenticator auth(kShared, Dir(ConfigWith("db-7", kOwn)));
  EXPECT_FALSE(auth.VerifyControl(HelloFor("not-the-token", "db-7", nonce_), nonce_).ok);
  // The shared token proves nothing about a configured id.
  EXPECT_FALSE(auth.VerifyControl(HelloFor(kShared, "db-7", nonce_), nonce_).ok);
  // A proof for another nonce (replay) fails.
  EXPECT_FALSE(auth.VerifyControl(HelloFor(kOwn, "db-7", "other-nonce"), nonce_).ok);
  // The id is bound into the MAC: db-7's proof does not work for db-8.
  auto h = HelloFor(kOwn, "db-7", nonce_);
  h.set_agent_id("db-8");
  EXPECT_FALSE(auth.VerifyControl(h, nonce_).ok);
}

TEST_F(AuthenticatorTest, UnconfiguredIdWithSharedTokenIsOnlyClaimed) {
  Authenticator auth(kShared, Dir(ConfigWith("db-7", kOwn)));
  auto r = auth.VerifyControl(HelloFor(kShared, "laptop", nonce_), nonce_);
  ASSERT_TRUE(r.ok);
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.agent_id, "laptop");
  EXPECT_TRUE(r.labels.empty());
}

TEST_F(AuthenticatorTest, NoSharedTokenMeansOnlyIdentities) {
  Authenticator auth("", Dir(ConfigWith("db-7", kOwn)));
  EXPECT_FALSE(auth.VerifyControl(HelloFor("", "", nonce_), nonce_).ok);
  EXPECT_FALSE(auth.VerifyControl(HelloFor("", "laptop", nonce_), nonce_).ok);
  EXPECT_TRUE(auth.VerifyControl(HelloFor(kOwn, "db-7", nonce_), nonce_).ok);
  EXPECT_FALSE(auth.shared_token_enabled());
}

TEST_F(AuthenticatorTest, RevocationOutlivesReloadsButNotANewToken) {
  auto cfg = ConfigWith("db-7", kOwn);
  auto* other = cfg.add_agents();
  other->set_id("web-1");
  other->set_token_sha256(Hex(wire::IdentityKey("web-token")));
  Authenticator auth(kShared, Dir(cfg));
  auto db = auth.VerifyControl(HelloFor(kOwn, "db-7", nonce_), nonce_);
  auto web = auth.VerifyControl(HelloFor("web-token", "web-1", nonce_), nonce_);
  EXPECT_FALSE(auth.Revoke("nobody"));
  ASSERT_TRUE(auth.Revoke("db-7"));
  EXPECT_EQ(auth.State(db.credential, "db-7", true), CS::kRevoked);
  EXPECT_EQ(auth.State(web.credential, "web-1", true), CS::kValid);
  EXPECT_FALSE(auth.VerifyControl(HelloFor(kOwn, "db-7", nonce_), nonce_).ok);
  auth.Update(kShared, Dir(cfg));  // a reload with the same config
  EXPECT_FALSE(auth.VerifyControl(HelloFor(kOwn, "db-7", nonce_), nonce_).ok);
  auth.Update(kShared, Dir(ConfigWith("db-7", "rotated-token")));
  EXPECT_TRUE(auth.VerifyControl(HelloFor("rotated-token", "db-7", nonce_), nonce_).ok);
  EXPECT_EQ(auth.State(web.credential, "web-1", true), CS::kRemoved);
}

TEST_F(AuthenticatorTest, ChangedTermsOrSharedTokenLapseCredentials) {
  Authenticator auth(kShared, Dir(ConfigWith("db-7", kOwn, {{"team", "blue"}})));
  auto db = auth.VerifyControl(HelloFor(kOwn, "db-7", nonce_), nonce_);
  auto shared = auth.VerifyControl(HelloFor(kShared, "", nonce_), nonce_);
  auth.Update(kShared, Dir(ConfigWith("db-7", kOwn, {{"team", "blue"}})));
  EXPECT_EQ(auth.State(db.credential, "db-7", true), CS::kValid);
  EXPECT_EQ(auth.State(shared.credential, "", false), CS::kValid);
  auth.Update(kShared, Dir(ConfigWith("db-7", kOwn, {{"team", "red"}})));
  EXPECT_EQ(auth.State(db.credential, "db-7", true), CS::kChanged);
  auth.Update("new-shared-token-xyz", Dir(ConfigWith("db-7", kOwn, {{"team", "red"}})));
  EXPECT_EQ(auth.State(shared.credential, "", false), CS::kSharedChanged);
}

TEST(AgentDirectoryTest, TokenFileIsHashedAndNamedInErrors) {
  config::v1::ServerConfig cfg;
  auto* a = cfg.add_agents();
  a->set_id("db-7");
  a->set_token_file("/secrets/db-7");
  auto read = [](const std::string& path) -> absl::StatusOr<std::string> {
    if (path == "/secrets/db-7") return std::string("file-token");
    return absl::NotFoundError(path + ": cannot read");
  };
  auto dir = AgentDirectory::Build(cfg, read);
  ASSERT_TRUE(dir.ok()) << dir.status();
  const IdentityEntry* e = (*dir)->Find("db-7");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->key, wire::IdentityKey("file-token"));
  EXPECT_EQ(e->source, "token_file /secrets/db-7");
  EXPECT_EQ(e->key_id.size(), 16u);
  EXPECT_EQ((*dir)->Find("db-8"), nullptr);

  a->set_token_file("/secrets/missing");
  auto bad = AgentDirectory::Build(cfg, read);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("agents[0] (db-7).token_file"),
            std::string::npos)
      << bad.status();

  auto empty = AgentDirectory::Build(
      cfg, [](const std::string&) -> absl::StatusOr<std::string> { return std::string(); });
  EXPECT_FALSE(empty.ok());
}

TEST(AgentDirectoryTest, ReadTokenFileStripsOneNewline) {
  char path[] = "/tmp/reitunnel_token_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "tok en\r\n", 8), 8);
  close(fd);
  auto t = AgentDirectory::ReadTokenFile(path);
  unlink(path);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, "tok en");
}

}  // namespace
}  // namespace reitunnel::server
