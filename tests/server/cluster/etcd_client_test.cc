// EtcdClient, LeaseKeeper, Watcher and LeaseSession against a real etcd.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/cluster/etcd/etcd_client.h"
#include "server/cluster/etcd/keys.h"
#include "server/cluster/etcd/lease_keeper.h"
#include "server/cluster/etcd/watcher.h"
#include "server/cluster/lease_session.h"
#include "tests/server/cluster/etcd_process.h"
#include "tests/server/cluster/io_thread.h"

namespace reitunnel::cluster {
namespace {

using etcd::EtcdClient;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::EtcdProcess;
using testing::IoThread;
using testing::WaitFor;

class EtcdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto etcd = EtcdProcess::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
    etcd::EtcdClientOptions options;
    options.endpoints = etcd_->url();
    options.request_timeout = milliseconds(2000);
    auto client = EtcdClient::Create(options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  absl::StatusOr<etcdserverpb::PutResponse> Put(const std::string& key, const std::string& value,
                                               int64_t lease = 0) {
    etcdserverpb::PutRequest request;
    request.set_key(key);
    request.set_value(value);
    request.set_lease(lease);
    return io_.Run(client_->Put(std::move(request)));
  }

  // Retries while etcd comes back from a restart.
  void PutEventually(const std::string& key, const std::string& value) {
    ASSERT_TRUE(WaitFor([&] { return Put(key, value).ok(); })) << key;
  }

  absl::StatusOr<etcdserverpb::RangeResponse> Range(const std::string& key, bool prefix = false,
                                                   int64_t revision = 0) {
    etcdserverpb::RangeRequest request;
    request.set_key(key);
    if (prefix) request.set_range_end(etcd::PrefixRangeEnd(key));
    request.set_revision(revision);
    return io_.Run(client_->Range(std::move(request)));
  }

  int64_t GrantLease(int64_t ttl) {
    etcdserverpb::LeaseGrantRequest request;
    request.set_ttl(ttl);
    auto response = io_.Run(client_->LeaseGrant(std::move(request)));
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? response->id() : 0;
  }

  bool KeyExists(const std::string& key) {
    auto r = Range(key);
    return r.ok() && r->kvs_size() == 1;
  }

  IoThread io_;  // first: outlives everything below
  std::unique_ptr<EtcdProcess> etcd_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(EtcdClientTest, PutRangeAtRevisionAndDelete) {
  auto first = Put("kv/a", "1");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(Put("kv/a", "2").ok());
  ASSERT_TRUE(Put("kv/b", "3").ok());
  ASSERT_TRUE(Put("kw", "outside").ok());

  auto all = Range("kv/", true);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->kvs_size(), 2);
  EXPECT_EQ(all->kvs(0).value(), "2");
  EXPECT_EQ(all->kvs(1).key(), "kv/b");

  auto old = Range("kv/a", false, first->header().revision());
  ASSERT_TRUE(old.ok());
  ASSERT_EQ(old->kvs_size(), 1);
  EXPECT_EQ(old->kvs(0).value(), "1");

  etcdserverpb::DeleteRangeRequest del;
  del.set_key("kv/");
  del.set_range_end(etcd::PrefixRangeEnd("kv/"));
  auto deleted = io_.Run(client_->DeleteRange(std::move(del)));
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->deleted(), 2);
  EXPECT_TRUE(KeyExists("kw"));
}

// The compare Claim relies on: every key of a range unmodified since a read.
TEST_F(EtcdClientTest, TxnCompareOverRange) {
  auto txn_unchanged_since = [&](int64_t revision) {
    etcdserverpb::TxnRequest txn;
    auto* compare = txn.add_compare();
    compare->set_key("t/");
    compare->set_range_end(etcd::PrefixRangeEnd("t/"));
    compare->set_target(etcdserverpb::Compare::MOD);
    compare->set_result(etcdserverpb::Compare::LESS);
    compare->set_mod_revision(revision + 1);
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key("t/mine");
    put->set_value("x");
    txn.add_failure()->mutable_request_range()->set_key("t/other");
    auto r = io_.Run(client_->Txn(std::move(txn)));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->succeeded();
  };
  auto empty = Range("t/", true);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(txn_unchanged_since(empty->header().revision()));  // empty range passes

  auto read = Range("t/", true);
  ASSERT_TRUE(read.ok());
  ASSERT_TRUE(Put("t/other", "y").ok());
  EXPECT_FALSE(txn_unchanged_since(read->header().revision()));  // created after the read

  auto reread = Range("t/", true);
  ASSERT_TRUE(reread.ok());
  EXPECT_TRUE(txn_unchanged_since(reread->header().revision()));
}

TEST_F(EtcdClientTest, LeaseExpiryAndRevokeDeleteKeys) {
  const int64_t short_lease = GrantLease(1);
  ASSERT_NE(short_lease, 0);
  ASSERT_TRUE(Put("lease/expiring", "v", short_lease).ok());
  const int64_t revoked_lease = GrantLease(30);
  ASSERT_TRUE(Put("lease/revoked", "v", revoked_lease).ok());
  EXPECT_TRUE(KeyExists("lease/expiring"));

  etcdserverpb::LeaseRevokeRequest revoke;
  revoke.set_id(revoked_lease);
  ASSERT_TRUE(io_.Run(client_->LeaseRevoke(std::move(revoke))).ok());
  EXPECT_FALSE(KeyExists("lease/revoked"));

  EXPECT_TRUE(WaitFor([&] { return !KeyExists("lease/expiring"); }, milliseconds(5000)));
  // A key put with a lease that no longer exists is refused.
  auto late = Put("lease/late", "v", short_lease);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kNotFound) << late.status();
}

TEST_F(EtcdClientTest, LeaseKeeperKeepsLeaseAliveBeyondTtl) {
  const int64_t lease = GrantLease(1);
  ASSERT_TRUE(Put("keeper/k", "v", lease).ok());
  Strand strand = io_.NewStrand();
  std::atomic<int> renewals{0};
  std::atomic<int64_t> last_ttl{0};
  etcd::LeaseKeeper::Callbacks callbacks;
  callbacks.on_renewed = [&](const etcd::LeaseKeeper::Renewal& r) {
    last_ttl = r.ttl_seconds;
    ++renewals;
  };
  auto keeper = std::make_unique<etcd::LeaseKeeper>(*client_, strand, lease, milliseconds(250),
                                                    std::move(callbacks));
  io_.On(strand, [&] { keeper->Start(); });
  // Eight renewals take two seconds: twice the TTL.
  ASSERT_TRUE(WaitFor([&] { return renewals >= 8; }));
  EXPECT_EQ(last_ttl, 1);
  EXPECT_TRUE(KeyExists("keeper/k"));
  io_.On(strand, [&] { keeper.reset(); });
  EXPECT_TRUE(WaitFor([&] { return !KeyExists("keeper/k"); }, milliseconds(5000)));
}

TEST_F(EtcdClientTest, LeaseKeeperReportsRevokedLease) {
  const int64_t lease = GrantLease(30);
  Strand strand = io_.NewStrand();
  std::atomic<bool> expired{false};
  etcd::LeaseKeeper::Callbacks callbacks;
  callbacks.on_expired = [&] { expired = true; };
  auto keeper = std::make_unique<etcd::LeaseKeeper>(*client_, strand, lease, milliseconds(100),
                                                    std::move(callbacks));
  io_.On(strand, [&] { keeper->Start(); });
  etcdserverpb::LeaseRevokeRequest revoke;
  revoke.set_id(lease);
  ASSERT_TRUE(io_.Run(client_->LeaseRevoke(std::move(revoke))).ok());
  EXPECT_TRUE(WaitFor([&] { return expired.load(); }));
  io_.On(strand, [&] { keeper.reset(); });
}

struct Recorded {
  std::mutex mu;
  std::vector<std::string> keys;
  int errors = 0;
  int64_t compacted = 0;
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return keys.size();
  }
};

std::unique_ptr<etcd::Watcher> MakeWatcher(EtcdClient& client, const Strand& strand,
                                           const std::string& prefix, int64_t from,
                                           Recorded& out) {
  etcd::Watcher::Callbacks callbacks;
  callbacks.on_events = [&out](const etcdserverpb::WatchResponse& response) {
    std::lock_guard<std::mutex> lock(out.mu);
    for (const auto& event : response.events()) out.keys.push_back(event.kv().key());
  };
  callbacks.on_stream_error = [&out](const absl::Status&) {
    std::lock_guard<std::mutex> lock(out.mu);
    ++out.errors;
  };
  callbacks.on_compacted = [&out](int64_t revision) {
    std::lock_guard<std::mutex> lock(out.mu);
    out.compacted = revision;
  };
  return std::make_unique<etcd::Watcher>(client, strand, prefix, etcd::PrefixRangeEnd(prefix),
                                         from, std::move(callbacks));
}

TEST_F(EtcdClientTest, WatchDeliversInOrderAndResumesAcrossEtcdRestart) {
  auto start = Range("w/", true);
  ASSERT_TRUE(start.ok());
  Strand strand = io_.NewStrand();
  Recorded seen;
  auto watcher = MakeWatcher(*client_, strand, "w/", start->header().revision() + 1, seen);
  io_.On(strand, [&] { watcher->Start(); });

  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i) {
    expected.push_back(absl::StrCat("w/", i));
    ASSERT_TRUE(Put(expected.back(), "v").ok());
  }
  ASSERT_TRUE(WaitFor([&] { return seen.size() >= 10; }));

  ASSERT_TRUE(etcd_->Restart().ok()) << etcd_->LogTail();
  for (int i = 10; i < 20; ++i) {
    expected.push_back(absl::StrCat("w/", i));
    PutEventually(expected.back(), "v");
  }
  ASSERT_TRUE(WaitFor([&] { return seen.size() >= 20; }, milliseconds(15000)));
  io_.On(strand, [&] { watcher.reset(); });
  std::lock_guard<std::mutex> lock(seen.mu);
  EXPECT_EQ(seen.keys, expected);  // in order, nothing lost or repeated
  EXPECT_GE(seen.errors, 1);       // it did notice the broken stream
}

TEST_F(EtcdClientTest, WatchReportsCompaction) {
  auto first = Put("c/k", "1");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(Put("c/k", "2").ok());
  auto last = Put("c/k", "3");
  ASSERT_TRUE(last.ok());
  etcdserverpb::CompactionRequest compact;
  compact.set_revision(last->header().revision());
  compact.set_physical(true);
  ASSERT_TRUE(io_.Run(client_->Compact(std::move(compact))).ok());

  Strand strand = io_.NewStrand();
  Recorded seen;
  auto watcher = MakeWatcher(*client_, strand, "c/", first->header().revision(), seen);
  io_.On(strand, [&] { watcher->Start(); });
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(seen.mu);
    return seen.compacted != 0;
  }));
  io_.On(strand, [&] { watcher.reset(); });
  std::lock_guard<std::mutex> lock(seen.mu);
  EXPECT_EQ(seen.compacted, last->header().revision());
  EXPECT_TRUE(seen.keys.empty());
}

TEST_F(EtcdClientTest, UnreachableEtcdFailsWithinDeadline) {
  etcd_->Kill();
  const auto start = std::chrono::steady_clock::now();
  auto r = Range("x");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status()) || absl::IsDeadlineExceeded(r.status()))
      << r.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(4));
}

class LeaseObserver : public LeaseSession::Observer {
 public:
  void OnLeaseGranted(int64_t id) override {
    std::lock_guard<std::mutex> lock(mu);
    granted.push_back(id);
  }
  void OnLeaseValidity(bool valid) override {
    std::lock_guard<std::mutex> lock(mu);
    validity.push_back(valid);
  }
  size_t granted_count() {
    std::lock_guard<std::mutex> lock(mu);
    return granted.size();
  }
  std::mutex mu;
  std::vector<int64_t> granted;
  std::vector<bool> validity;
};

TEST_F(EtcdClientTest, LeaseSessionDetectsPossibleLossWhileEtcdIsFrozen) {
  Strand strand = io_.NewStrand();
  LeaseSessionOptions options;
  options.ttl = seconds(2);
  auto session = LeaseSession::Create(*client_, strand, options);
  LeaseObserver observer;
  io_.On(strand, [&] {
    session->AddObserver(&observer);
    session->Start();
  });
  ASSERT_TRUE(WaitFor([&] { return session->ValidNow(); }));
  const int64_t first_lease = session->lease_id();

  etcd_->Pause();
  const auto paused_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return !session->ValidNow(); }, milliseconds(5000)));
  // The lease was given up locally before etcd could have expired it: at
  // most TTL after the last keepalive, which was sent before the pause.
  EXPECT_LT(std::chrono::steady_clock::now() - paused_at, seconds(2));
  EXPECT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(observer.mu);
    return !observer.validity.empty() && !observer.validity.back();
  }));

  // Frozen past the TTL; on resume etcd either renews (our keepalives come
  // first) or expires the lease, and then a new one is granted.
  std::this_thread::sleep_for(milliseconds(2500));  // the outage under test
  etcd_->Resume();
  ASSERT_TRUE(WaitFor([&] { return session->ValidNow(); }, milliseconds(10000)));
  EXPECT_NE(session->lease_id(), 0);
  if (session->lease_id() != first_lease) {
    EXPECT_EQ(observer.granted_count(), 2u);
  }
  io_.On(strand, [&] {
    session->RemoveObserver(&observer);
    session->Stop();
  });
}

TEST_F(EtcdClientTest, LeaseSessionReplacesLostLease) {
  Strand strand = io_.NewStrand();
  LeaseSessionOptions options;
  options.ttl = seconds(2);
  auto session = LeaseSession::Create(*client_, strand, options);
  LeaseObserver observer;
  io_.On(strand, [&] {
    session->AddObserver(&observer);
    session->Start();
  });
  ASSERT_TRUE(WaitFor([&] { return observer.granted_count() == 1; }));
  const int64_t first = session->lease_id();
  etcdserverpb::LeaseRevokeRequest revoke;
  revoke.set_id(first);
  ASSERT_TRUE(io_.Run(client_->LeaseRevoke(std::move(revoke))).ok());
  ASSERT_TRUE(WaitFor([&] { return observer.granted_count() == 2; }));
  EXPECT_NE(session->lease_id(), first);
  EXPECT_TRUE(session->ValidNow());
  io_.On(strand, [&] {
    session->RemoveObserver(&observer);
    session->Stop();
  });
}

}  // namespace
}  // namespace reitunnel::cluster
