// EtcdClient with etcd's user/password authentication and with (m)TLS.

#include <chrono>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "grpcpp/create_channel.h"
#include "server/cluster/etcd/etcd_client.h"
#include "server/cluster/etcd/keys.h"
#include "tests/server/cluster/etcd_process.h"
#include "tests/server/cluster/io_thread.h"

namespace reitunnel::cluster {
namespace {

using etcd::EtcdClient;
using etcd::EtcdClientOptions;
using testing::EtcdProcess;
using testing::IoThread;

constexpr char kPassword[] = "s3cret-Pa55";

absl::Status PutWith(IoThread& io, EtcdClient& client, const std::string& key) {
  etcdserverpb::PutRequest request;
  request.set_key(key);
  request.set_value("v");
  return io.Run(client.Put(std::move(request))).status();
}

std::unique_ptr<EtcdClient> MakeClient(EtcdClientOptions options) {
  options.request_timeout = std::chrono::milliseconds(2000);
  auto client = EtcdClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

class EtcdAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto etcd = EtcdProcess::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
    // Enable authentication through etcd's own Auth API (what `etcdctl
    // user add root && etcdctl auth enable` does).
    auto channel = grpc::CreateChannel(etcd_->url().substr(7), grpc::InsecureChannelCredentials());
    auto auth = etcdserverpb::Auth::NewStub(channel);
    auto call = [](auto&& fn) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      return fn(&context);
    };
    etcdserverpb::AuthRoleAddRequest role;
    role.set_name("root");
    etcdserverpb::AuthRoleAddResponse role_response;
    ASSERT_TRUE(call([&](grpc::ClientContext* c) { return auth->RoleAdd(c, role, &role_response); }).ok());
    etcdserverpb::AuthUserAddRequest user;
    user.set_name("root");
    user.set_password(kPassword);
    etcdserverpb::AuthUserAddResponse user_response;
    ASSERT_TRUE(call([&](grpc::ClientContext* c) { return auth->UserAdd(c, user, &user_response); }).ok());
    etcdserverpb::AuthUserGrantRoleRequest grant;
    grant.set_user("root");
    grant.set_role("root");
    etcdserverpb::AuthUserGrantRoleResponse grant_response;
    ASSERT_TRUE(call([&](grpc::ClientContext* c) { return auth->UserGrantRole(c, grant, &grant_response); }).ok());
    etcdserverpb::AuthEnableRequest enable;
    etcdserverpb::AuthEnableResponse enable_response;
    auto enabled = call([&](grpc::ClientContext* c) { return auth->AuthEnable(c, enable, &enable_response); });
    ASSERT_TRUE(enabled.ok()) << enabled.error_message();
  }

  IoThread io_;
  std::unique_ptr<EtcdProcess> etcd_;
};

TEST_F(EtcdAuthTest, AuthenticatesAndRefreshesTokenAfterEtcdRestart) {
  EtcdClientOptions options;
  options.endpoints = etcd_->url();
  options.username = "root";
  options.password = kPassword;
  auto client = MakeClient(options);
  ASSERT_TRUE(client);
  ASSERT_TRUE(PutWith(io_, *client, "auth/a").ok());

  // Without credentials etcd refuses.
  EtcdClientOptions anonymous;
  anonymous.endpoints = etcd_->url();
  auto no_user = MakeClient(anonymous);
  EXPECT_FALSE(PutWith(io_, *no_user, "auth/b").ok());

  // etcd's simple tokens live in its memory: after a restart the client's
  // token is invalid and must be replaced transparently.
  ASSERT_TRUE(etcd_->Restart().ok()) << etcd_->LogTail();
  ASSERT_TRUE(testing::WaitFor([&] { return PutWith(io_, *client, "auth/c").ok(); }));
}

TEST_F(EtcdAuthTest, WrongPasswordIsAClearErrorWithoutThePassword) {
  EtcdClientOptions options;
  options.endpoints = etcd_->url();
  options.username = "root";
  options.password = "wrong-Pa55word";
  auto client = MakeClient(options);
  ASSERT_TRUE(client);
  absl::Status status = PutWith(io_, *client, "auth/x");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
  EXPECT_NE(status.message().find("wrong user name or password"), std::string::npos) << status;
  EXPECT_EQ(status.message().find("wrong-Pa55word"), std::string::npos);
  EXPECT_EQ(status.message().find(kPassword), std::string::npos);
}

class EtcdTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = testing::MakeTestPki();
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = *std::move(pki);
    testing::EtcdTls tls{pki_.ca_cert, pki_.server_cert, pki_.server_key, true};
    auto etcd = EtcdProcess::Start(&tls);
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
  }
  void TearDown() override { testing::RemoveTree(pki_.dir); }

  EtcdClientOptions Options() {
    EtcdClientOptions options;
    options.endpoints = etcd_->url();
    options.ca_file = pki_.ca_cert;
    return options;
  }

  IoThread io_;
  testing::TestPki pki_;
  std::unique_ptr<EtcdProcess> etcd_;
};

TEST_F(EtcdTlsTest, MutualTlsWithTheRightClientCertificate) {
  auto options = Options();
  options.cert_file = pki_.client_cert;
  options.key_file = pki_.client_key;
  auto client = MakeClient(options);
  ASSERT_TRUE(client);
  EXPECT_TRUE(PutWith(io_, *client, "tls/a").ok());
}

TEST_F(EtcdTlsTest, RefusedWithoutOrWithAForeignClientCertificate) {
  auto without = MakeClient(Options());
  ASSERT_TRUE(without);
  EXPECT_FALSE(PutWith(io_, *without, "tls/b").ok());

  auto rogue_options = Options();
  rogue_options.cert_file = pki_.rogue_cert;
  rogue_options.key_file = pki_.rogue_key;
  auto rogue = MakeClient(rogue_options);
  ASSERT_TRUE(rogue);
  EXPECT_FALSE(PutWith(io_, *rogue, "tls/c").ok());
}

TEST_F(EtcdTlsTest, ServerNotSignedByTheConfiguredCaIsRefused) {
  auto options = Options();
  options.ca_file = pki_.dir + "/rogue-ca.crt";
  options.cert_file = pki_.client_cert;
  options.key_file = pki_.client_key;
  auto client = MakeClient(options);
  ASSERT_TRUE(client);
  absl::Status status = PutWith(io_, *client, "tls/d");
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
}

TEST(EtcdClientOptionsTest, RejectsInconsistentOptions) {
  EtcdClientOptions options;
  options.endpoints = "http://127.0.0.1:1";
  options.ca_file = "/nonexistent";
  EXPECT_FALSE(EtcdClient::Create(options).ok());  // TLS files without https

  options.endpoints = "https://127.0.0.1:1";
  EXPECT_FALSE(EtcdClient::Create(options).ok());  // unreadable CA

  options.ca_file.clear();
  options.cert_file = "/some/cert";
  EXPECT_FALSE(EtcdClient::Create(options).ok());  // cert without key

  EtcdClientOptions no_user;
  no_user.endpoints = "http://127.0.0.1:1";
  no_user.password = "x";
  auto status = EtcdClient::Create(no_user).status();
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.message().find("x\""), std::string::npos);
}

}  // namespace
}  // namespace reitunnel::cluster
