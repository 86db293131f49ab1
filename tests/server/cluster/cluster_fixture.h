#pragma once

// Test fixture pieces for cluster-level tests: one etcd and any number of
// "replicas", each with its own EtcdClient (its own connection, as separate
// processes would have), strand and LeaseSession.

#include <chrono>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "server/cluster/etcd/etcd_client.h"
#include "server/cluster/lease_session.h"
#include "tests/server/cluster/etcd_process.h"
#include "tests/server/cluster/io_thread.h"

namespace reitunnel::cluster::testing {

struct TestReplica {
  std::string id;
  std::unique_ptr<etcd::EtcdClient> client;
  std::unique_ptr<Strand> strand;
  std::shared_ptr<LeaseSession> lease;
};

inline std::unique_ptr<etcd::EtcdClient> NewClient(const std::string& url) {
  etcd::EtcdClientOptions options;
  options.endpoints = url;
  options.request_timeout = std::chrono::milliseconds(2000);
  auto client = etcd::EtcdClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// Starts the replica's lease and waits until it is valid.
inline void StartReplica(IoThread& io, const std::string& url, const std::string& id,
                         std::chrono::seconds ttl, TestReplica& out) {
  out.id = id;
  out.client = NewClient(url);
  ASSERT_TRUE(out.client);
  out.strand = std::make_unique<Strand>(io.NewStrand());
  LeaseSessionOptions options;
  options.ttl = ttl;
  out.lease = LeaseSession::Create(*out.client, *out.strand, options);
  io.On(*out.strand, [&] { out.lease->Start(); });
  ASSERT_TRUE(WaitFor([&] { return out.lease->ValidNow(); })) << id;
}

inline void StopReplica(IoThread& io, TestReplica& replica) {
  if (!replica.lease) return;
  io.On(*replica.strand, [&] { replica.lease->Stop(); });
  replica.lease.reset();
  replica.client.reset();
}

}  // namespace reitunnel::cluster::testing
