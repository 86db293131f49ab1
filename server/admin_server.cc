#include "server/admin_server.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/config/parse.h"
#include "common/net/listener.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace reitunnel::server {

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const config::v1::AdminConfig& c) {
  if (c.cert_file().empty()) return grpc::InsecureServerCredentials();
  auto cert = ReadFile(c.cert_file());
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(c.key_file());
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions o(
      c.client_ca_file().empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                 // Certificates are one way in; a token is the other.
                                 : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!c.client_ca_file().empty()) {
    auto ca = ReadFile(c.client_ca_file());
    if (!ca.ok()) return ca.status();
    o.pem_root_certs = *ca;
  }
  o.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(o);
}

}  // namespace

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(
    const std::string& address, const config::v1::AdminConfig& tls, grpc::Service* service) {
  auto hp = config::ParseHostPort(address);
  if (!hp.ok()) return hp.status();
  auto creds = Credentials(tls);
  if (!creds.ok()) return creds.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // gRPC sets SO_REUSEPORT by default, which lets a second server bind the
  // same admin port and share its calls: refuse a port in use instead.
  asio::error_code aec;
  auto ip = asio::ip::make_address(hp->host, aec);
  if (!aec && hp->port != 0) {
    if (auto ec = net::ProbeListen({ip, hp->port})) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on admin address ", address, ": ", ec.message()));
    }
  }
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  int port = 0;
  builder.AddListeningPort(address, *creds, &port);
  builder.RegisterService(service);
  auto admin = std::unique_ptr<AdminServer>(new AdminServer());
  admin->server_ = builder.BuildAndStart();
  if (!admin->server_ || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on admin address ", address));
  }
  std::string host = hp->host;
  if (host.find(':') != std::string::npos) host = absl::StrCat("[", host, "]");
  admin->address_ = absl::StrCat(host, ":", port);
  admin->SetServing(true);
  return admin;
}

AdminServer::~AdminServer() { Shutdown(); }

void AdminServer::SetServing(bool serving) {
  if (server_) server_->GetHealthCheckService()->SetServingStatus(serving);
}

void AdminServer::Shutdown() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
  server_.reset();
}

}  // namespace reitunnel::server
