#pragma once

// The admin API's cluster view: asks every other live replica's admin API
// (their addresses come from the membership records) and merges the
// answers, so `reitunnelctl` on any replica sees each agent and tunnel once
// with the replicas that hold it, and kicks/closes act everywhere. Replicas
// authenticate to each other with the admin token (replicas of a cluster
// share it). Calls are asynchronous (gRPC callback API); `done` runs on a
// gRPC thread.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "grpcpp/channel.h"
#include "reitunnel/admin/v1/admin.grpc.pb.h"

namespace reitunnel::server {

class ClusterNode;

class ClusterAdmin {
 public:
  // `cluster` must outlive this object.
  ClusterAdmin(ClusterNode* cluster, std::string admin_token, bool admin_tls,
               std::chrono::milliseconds timeout = std::chrono::seconds(2));

  template <typename Resp>
  struct PeerResult {
    std::string replica_id;
    grpc::Status status;
    Resp response;
  };

  // Each `Ask*` calls the RPC (with local_only set) on every other live
  // replica and calls `done` once with every answer.
  void AskClients(const admin::v1::ListClientsRequest& req,
                  std::function<void(std::vector<PeerResult<admin::v1::ListClientsResponse>>)> done);
  void AskTunnels(const admin::v1::ListTunnelsRequest& req,
                  std::function<void(std::vector<PeerResult<admin::v1::ListTunnelsResponse>>)> done);
  void AskServerInfo(std::function<void(std::vector<PeerResult<admin::v1::ServerInfo>>)> done);
  void AskDisconnect(const admin::v1::DisconnectClientRequest& req,
                     std::function<void(std::vector<PeerResult<admin::v1::DisconnectClientResponse>>)>
                         done);
  void AskCloseTunnel(const admin::v1::CloseTunnelRequest& req,
                      std::function<void(std::vector<PeerResult<admin::v1::CloseTunnelResponse>>)>
                          done);

  // Merges per-replica lists into the cluster view (pure; tested alone).
  static void MergeClients(const std::string& self_id, admin::v1::ListClientsResponse local,
                           const std::vector<PeerResult<admin::v1::ListClientsResponse>>& peers,
                           admin::v1::ListClientsResponse* out);
  static void MergeTunnels(const std::string& self_id, admin::v1::ListTunnelsResponse local,
                           const std::vector<PeerResult<admin::v1::ListTunnelsResponse>>& peers,
                           admin::v1::ListTunnelsResponse* out);

 private:
  struct Peer {
    std::string replica_id;
    std::string address;
  };
  std::vector<Peer> Peers() const;
  admin::v1::AdminService::Stub* Stub(const Peer& p);

  template <typename Req, typename Resp, typename Method>
  void FanOut(const Req& req, Method method, std::function<void(std::vector<PeerResult<Resp>>)> done);

  ClusterNode* cluster_;
  std::string token_;
  bool tls_;
  std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<admin::v1::AdminService::Stub>> stubs_;  // by address
};

}  // namespace reitunnel::server
