#include "server/cluster/cluster_keys.h"

#include "gtest/gtest.h"
#include "server/cluster/etcd/endpoint.h"
#include "server/cluster/etcd/keys.h"
#include "server/cluster/replica_record.h"

namespace reitunnel::cluster {
namespace {

TEST(PrefixRangeEnd, IncrementsLastByte) {
  EXPECT_EQ(etcd::PrefixRangeEnd("a/"), "a0");
  EXPECT_EQ(etcd::PrefixRangeEnd("abc"), "abd");
}

TEST(PrefixRangeEnd, DropsTrailingFf) {
  EXPECT_EQ(etcd::PrefixRangeEnd(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(etcd::PrefixRangeEnd(std::string("\xff", 1)), std::string(1, '\0'));
  EXPECT_EQ(etcd::PrefixRangeEnd(""), std::string(1, '\0'));
}

TEST(Endpoint, ParsesHttpAndHttps) {
  auto eps = etcd::ParseEndpoints("http://127.0.0.1:2379,https://etcd-1.example:2380/,http://[::1]:9");
  ASSERT_TRUE(eps.ok()) << eps.status();
  ASSERT_EQ(eps->size(), 3u);
  EXPECT_FALSE((*eps)[0].tls);
  EXPECT_EQ((*eps)[0].grpc_target, "ipv4:127.0.0.1:2379");
  EXPECT_TRUE((*eps)[1].tls);
  EXPECT_EQ((*eps)[1].grpc_target, "dns:///etcd-1.example:2380");
  EXPECT_EQ((*eps)[1].authority, "etcd-1.example:2380");
  EXPECT_EQ((*eps)[2].grpc_target, "ipv6:[::1]:9");
  EXPECT_EQ((*eps)[2].port, 9);
}

TEST(Endpoint, DefaultPort) {
  auto ep = etcd::ParseEndpoint("http://etcd");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->port, etcd::kDefaultEtcdPort);
}

TEST(Endpoint, RejectsBadUrls) {
  for (const char* bad : {"", "127.0.0.1:2379", "ftp://x:1", "http://", "http://:1",
                          "http://x:0", "http://x:65536", "http://x:12a", "http://x:1/path",
                          "http://user@x:1", "http://[::1", "http://[zz]:1", "http://x y:1",
                          "http://a:1,,http://b:1", "http://x:"}) {
    EXPECT_FALSE(etcd::ParseEndpoints(bad).ok()) << bad;
  }
  std::string many;
  for (int i = 0; i < 17; ++i) many += (i ? "," : "") + std::string("http://h:1");
  EXPECT_FALSE(etcd::ParseEndpoints(many).ok());
}

TEST(ClusterKeys, Layout) {
  ClusterKeys keys("reitunnel");
  EXPECT_EQ(keys.ReplicaKey("r1"), "reitunnel/replicas/r1");
  EXPECT_EQ(keys.PortPrefix(2008), "reitunnel/ports/2008/");
  EXPECT_EQ(keys.HolderKey(20080, "r1"), "reitunnel/ports/20080/r1");
  EXPECT_EQ(keys.ReplicaIdOf("reitunnel/replicas/r1"), "r1");
  EXPECT_FALSE(keys.ReplicaIdOf("reitunnel/replicas/a/b"));
  EXPECT_FALSE(keys.ReplicaIdOf("other/replicas/r1"));
}

TEST(ClusterKeys, HolderOf) {
  ClusterKeys keys("c");
  auto h = keys.HolderOf("c/ports/20080/r-1");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->port, 20080);
  EXPECT_EQ(h->replica_id, "r-1");
  for (const char* bad : {"c/ports/0/r", "c/ports/65536/r", "c/ports/080/r", "c/ports/x/r",
                          "c/ports/80/", "c/ports/80", "c/ports//r", "c/ports/80/r/x",
                          "d/ports/80/r", "c/ports/123456/r"}) {
    EXPECT_FALSE(keys.HolderOf(bad)) << bad;
  }
}

TEST(ReplicaRecord, RoundTripsAndIgnoresUnknownFields) {
  ReplicaRecord record;
  record.set_replica_id("r1");
  record.set_version("0.1.0");
  record.set_start_time_unix_ms(1700000000000);
  record.set_draining(true);
  record.set_agent_address("10.0.0.1:7000");
  auto decoded = DecodeReplicaRecord(EncodeReplicaRecord(record));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->agent_address(), "10.0.0.1:7000");
  EXPECT_TRUE(decoded->draining());
  EXPECT_EQ(decoded->start_time_unix_ms(), 1700000000000);

  auto future = DecodeReplicaRecord(R"({"replica_id":"r2","some_new_field":[1,2]})");
  ASSERT_TRUE(future.ok());
  EXPECT_EQ(future->replica_id(), "r2");
}

TEST(ReplicaRecord, RejectsGarbageAndHugeValues) {
  EXPECT_FALSE(DecodeReplicaRecord("{not json").ok());
  EXPECT_FALSE(DecodeReplicaRecord(R"({"draining":"maybe"})").ok());
  EXPECT_FALSE(DecodeReplicaRecord(std::string(kMaxReplicaRecordBytes + 1, ' ')).ok());
}

TEST(KeySegment, Validity) {
  EXPECT_TRUE(IsValidKeySegment("replica-1.eu_west"));
  EXPECT_FALSE(IsValidKeySegment(""));
  EXPECT_FALSE(IsValidKeySegment("a/b"));
  EXPECT_FALSE(IsValidKeySegment(".."));
  EXPECT_FALSE(IsValidKeySegment(std::string(129, 'a')));
}

}  // namespace
}  // namespace reitunnel::cluster
