#include "server/admin_server.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/config/parse.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace reitunnel::server {

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(const std::string& address) {
  auto hp = config::ParseHostPort(address);
  if (!hp.ok()) return hp.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
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
