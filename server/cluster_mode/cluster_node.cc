#include "server/cluster_mode/cluster_node.h"

#include <algorithm>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asio/experimental/as_tuple.hpp"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "asio/strand.hpp"
#include "asio/use_awaitable.hpp"
#include "common/log/log.h"
#include "common/version.h"
#include "server/cluster/etcd/etcd_client.h"
#include "server/cluster/lease_session.h"
#include "server/cluster/membership.h"
#include "server/cluster_mode/announced_address.h"

namespace reitunnel::server {
namespace {

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// The host name, made a valid key segment.
std::string DefaultReplicaId() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::string id;
  for (char c : std::string(host)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    id.push_back(ok ? c : '-');
  }
  return id.empty() ? "replica" : id.substr(0, 128);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ClusterNode>> ClusterNode::Create(
    asio::any_io_executor control, const config::v1::ClusterConfig& cfg, Callbacks callbacks) {
  auto node = std::unique_ptr<ClusterNode>(new ClusterNode());
  node->control_ = control;
  node->callbacks_ = std::move(callbacks);
  node->cluster_name_ = cfg.name().empty() ? "reitunnel" : cfg.name();
  node->replica_id_ = cfg.replica_id().empty() ? DefaultReplicaId() : cfg.replica_id();
  node->ttl_ = std::chrono::seconds(cfg.lease_ttl_s() == 0 ? 10 : cfg.lease_ttl_s());
  if (!cluster::IsValidKeySegment(node->cluster_name_)) {
    return absl::InvalidArgumentError("cluster.name: expected 1-128 of [A-Za-z0-9._-]");
  }
  if (!cluster::IsValidKeySegment(node->replica_id_)) {
    return absl::InvalidArgumentError("cluster.replica_id: expected 1-128 of [A-Za-z0-9._-]");
  }
  cluster::etcd::EtcdClientOptions o;
  o.endpoints = absl::StrJoin(cfg.endpoints(), ",");
  o.ca_file = cfg.ca_file();
  o.cert_file = cfg.cert_file();
  o.key_file = cfg.key_file();
  o.username = cfg.username();
  if (!cfg.password_file().empty()) {
    auto pw = ReadSecretFile(cfg.password_file());
    if (!pw.ok()) return absl::InvalidArgumentError(absl::StrCat("cluster.password_file: ",
                                                                 pw.status().message()));
    o.password = *pw;
  }
  auto client = cluster::etcd::EtcdClient::Create(o);
  if (!client.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("cluster: ", client.status().message()));
  }
  node->client_ = std::move(*client);
  node->strand_ = std::make_unique<cluster::Strand>(asio::make_strand(control));
  cluster::LeaseSessionOptions lo;
  lo.ttl = node->ttl_;
  node->lease_ = cluster::LeaseSession::Create(*node->client_, *node->strand_, lo);
  return node;
}

ClusterNode::~ClusterNode() = default;

asio::awaitable<absl::Status> ClusterNode::Start(std::string agent_address,
                                                 std::string admin_address,
                                                 std::chrono::milliseconds wait) {
  cluster::ReplicaRecord self;
  self.set_replica_id(replica_id_);
  self.set_version(kVersion);
  self.set_start_time_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
  self.set_agent_address(AnnouncedAddress(agent_address));
  self.set_admin_address(AnnouncedAddress(admin_address));
  // Wakes Start() once this replica's own record is visible.
  auto registered = std::make_shared<asio::steady_timer>(control_, asio::steady_timer::time_point::max());
  auto on_change = [this, registered](cluster::Membership::Change change,
                                      const cluster::ReplicaRecord& r) {
    log::Info(change == cluster::Membership::Change::kLeft ? "replica_left" : "replica_seen",
              "cluster membership changed",
              {{"replica_id", r.replica_id()}, {"draining", r.draining()}});
    if (r.replica_id() == replica_id_) registered->cancel();
    if (callbacks_.on_replicas_changed) callbacks_.on_replicas_changed(Replicas());
  };
  auto membership = cluster::Membership::Create(*client_, lease_, cluster_name_, self, on_change);
  if (!membership.ok()) co_return membership.status();
  membership_ = std::move(*membership);
  cluster::PortClaimsOptions po;
  po.cluster_name = cluster_name_;
  po.replica_id = replica_id_;
  cluster::PortClaims::Listener listener;
  listener.on_serving_changed = [](uint16_t port, bool allowed) {
    log::Log(allowed ? log::Level::kInfo : log::Level::kWarn, "port_serving_changed",
             allowed ? "serving the port again" : "not serving the port (etcd lease unconfirmed)",
             {{"port", port}});
  };
  listener.on_claim_lost = [this](uint16_t port, const std::string& owner, const absl::Status& why) {
    log::Warn("port_claim_lost", "a port claim could not be kept",
              {{"port", port}, {"error", std::string(why.message())}});
    (void)owner;
    if (callbacks_.on_claim_lost) callbacks_.on_claim_lost(port, std::string(why.message()));
  };
  auto claims = cluster::PortClaims::Create(*client_, lease_, po, listener);
  if (!claims.ok()) co_return claims.status();
  claims_ = std::move(*claims);
  asio::post(*strand_, [lease = lease_, m = membership_, c = claims_] {
    lease->Start();
    m->Start();
    c->Start();
  });
  // The watch may show our own record a moment before Registered() turns
  // true (the put's reply comes after), so a wake-up is a hint to look
  // again, with a short bound, until the deadline.
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (!membership_->Registered() && std::chrono::steady_clock::now() < deadline) {
    registered->expires_after(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(50), deadline - std::chrono::steady_clock::now()));
    co_await registered->async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  if (!membership_->Registered()) {
    co_return absl::UnavailableError(absl::StrCat("cannot register replica ", replica_id_,
                                                  " in etcd within ", wait.count(), " ms"));
  }
  log::Info("cluster_joined", "joined the cluster",
            {{"cluster", cluster_name_}, {"replica_id", replica_id_},
             {"replicas", Replicas().size()}});
  co_return absl::OkStatus();
}

asio::awaitable<void> ClusterNode::Stop() {
  if (!lease_) co_return;
  auto m = membership_;
  auto c = claims_;
  asio::post(*strand_, [m, c] {
    if (c) c->Stop();
    if (m) m->Stop();
  });
  auto revoke = lease_->RevokeAndStop();
  absl::Status st = co_await std::move(revoke);
  if (!st.ok()) {
    log::Warn("cluster_leave_failed", "could not revoke the lease; peers see this replica "
              "leave when it expires", {{"error", std::string(st.message())}});
  }
}

void ClusterNode::SetDraining(bool draining) {
  if (membership_) membership_->SetDraining(draining);
}

std::vector<cluster::ReplicaRecord> ClusterNode::Records() const {
  return membership_ ? membership_->Replicas() : std::vector<cluster::ReplicaRecord>{};
}

std::vector<wire::v1::Replica> ClusterNode::Replicas() const {
  std::vector<wire::v1::Replica> out;
  for (const auto& r : Records()) {
    wire::v1::Replica w;
    w.set_replica_id(r.replica_id());
    w.set_agent_address(r.agent_address());
    w.set_draining(r.draining());
    out.push_back(std::move(w));
  }
  return out;
}

bool ClusterNode::lease_valid() const { return lease_ && lease_->ValidNow(); }

asio::awaitable<absl::StatusOr<cluster::ClaimResult>> ClusterNode::Claim(uint16_t port,
                                                                         const std::string& owner) {
  if (!claims_) co_return absl::UnavailableError("cluster mode is not started");
  std::string o = owner;
  auto op = claims_->Claim(port, std::move(o));
  co_return co_await std::move(op);
}

asio::awaitable<absl::StatusOr<cluster::ClaimResult>> ClusterNode::PickFree(
    uint16_t first, uint16_t last, const std::string& owner,
    const std::function<bool(uint16_t)>& usable) {
  if (!claims_) co_return absl::UnavailableError("cluster mode is not started");
  std::string o = owner;
  std::function<bool(uint16_t)> u = usable;
  auto op = claims_->PickFree(first, last, std::move(o), std::move(u));
  co_return co_await std::move(op);
}

asio::awaitable<absl::Status> ClusterNode::Release(uint16_t port) {
  if (!claims_) co_return absl::OkStatus();
  auto op = claims_->Release(port);
  absl::Status st = co_await std::move(op);
  // Callers cannot do better than carry on: the claim stays this owner's
  // until the lease ends; say so, since it keeps the port from others.
  if (!st.ok()) {
    log::Warn("port_release_failed", "could not release a port claim in etcd",
              {{"port", port}, {"error", std::string(st.message())}});
  }
  co_return st;
}

bool ClusterNode::ServingAllowed(uint16_t port) const {
  return claims_ && claims_->ServingAllowed(port);
}

}  // namespace reitunnel::server
