// EtcdClient's KV and lease calls against one real etcd member.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/etcd/etcd_client.h"
#include "testing/poll_until.h"
#include "tests/server/etcd/etcd_test_util.h"

namespace portlease::etcd {
namespace {

using ::testing::HasSubstr;

using EtcdClientTest = EtcdTest<1>;

size_t KeysUnder(EtcdClient& client, const std::string& prefix) {
  absl::StatusOr<RangeResult> range = client.Range(prefix, PrefixEnd(prefix));
  EXPECT_TRUE(range.ok()) << range.status();
  return range.ok() ? range->kvs.size() : 0;
}

TEST_F(EtcdClientTest, TxnCreatesAbsentKeysOnceAndOverlapFails) {
  absl::StatusOr<TxnResult> first = client_->Txn(
      {Compare::Absent("/p/1"), Compare::Absent("/p/2")},
      {Op::Put("/p/1", "a"), Op::Put("/p/2", "a")}, {});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->succeeded);

  absl::StatusOr<TxnResult> second = client_->Txn(
      {Compare::Absent("/p/2"), Compare::Absent("/p/3")},
      {Op::Put("/p/2", "b"), Op::Put("/p/3", "b")}, {Op::Range("/p/2")});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->succeeded);
  ASSERT_EQ(second->ranges.size(), 1u);
  ASSERT_EQ(second->ranges[0].size(), 1u);
  EXPECT_EQ(second->ranges[0][0].value, "a");
  EXPECT_EQ(second->ranges[0][0].create_revision, first->revision);

  absl::StatusOr<TxnResult> third = client_->Txn(
      {Compare::Absent("/p/3")}, {Op::Put("/p/3", "c")}, {});
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_TRUE(third->succeeded);
  EXPECT_GT(third->revision, first->revision);

  absl::StatusOr<RangeResult> all = client_->Range("/p/", PrefixEnd("/p/"));
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->kvs.size(), 3u);
  EXPECT_EQ(all->kvs[1].key, "/p/2");
  EXPECT_EQ(all->kvs[1].value, "a");
  EXPECT_EQ(all->revision, third->revision);
}

TEST_F(EtcdClientTest, PutRangeDeleteAndLimit) {
  absl::StatusOr<int64_t> r1 = client_->Put("/k/a", "1");
  ASSERT_TRUE(r1.ok()) << r1.status();
  absl::StatusOr<int64_t> r2 = client_->Put("/k/b", "2");
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(*r2, *r1 + 1);
  absl::StatusOr<RangeResult> one = client_->Range("/k/", PrefixEnd("/k/"), 0, 1);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->kvs.size(), 1u);
  EXPECT_TRUE(one->more);
  absl::StatusOr<RangeResult> old = client_->Range("/k/", PrefixEnd("/k/"), *r1);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->kvs.size(), 1u);
  absl::StatusOr<RangeResult> future = client_->Range("/k/", PrefixEnd("/k/"), *r2 + 100);
  EXPECT_EQ(future.status().code(), absl::StatusCode::kInvalidArgument) << future.status();
  absl::StatusOr<DeleteResult> deleted = client_->DeleteRange("/k/", PrefixEnd("/k/"));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->deleted, 2);
  EXPECT_EQ(KeysUnder(*client_, "/k/"), 0u);
}

TEST_F(EtcdClientTest, TooManyOpsInOneTxnIsInvalidArgumentNamingTheLimit) {
  std::vector<Op> puts;
  for (int i = 0; i < 129; ++i) puts.push_back(Op::Put(absl::StrCat("/many/", i), "x"));
  absl::StatusOr<TxnResult> r = client_->Txn({}, puts, {});
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("too many operations"));
  EXPECT_THAT(r.status().message(), HasSubstr("--max-txn-ops, 128"));
  puts.pop_back();
  EXPECT_TRUE(client_->Txn({}, puts, {}).ok());
}

TEST_F(EtcdClientTest, ExpiredLeaseDeletesItsKeysAndIsNotFound) {
  absl::StatusOr<LeaseGrantResult> lease = client_->LeaseGrant(1);
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(client_->Put("/l/1", "x", lease->id).ok());
  ASSERT_TRUE(client_->Put("/l/2", "x", lease->id).ok());
  absl::StatusOr<LeaseTimeToLiveResult> ttl = client_->LeaseTimeToLive(lease->id, true);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(ttl->keys.size(), 2u);
  EXPECT_TRUE(testing::PollUntil([&] { return KeysUnder(*client_, "/l/") == 0; },
                                 absl::Seconds(10)));
  absl::StatusOr<int64_t> renewed = client_->LeaseKeepAliveOnce(lease->id);
  EXPECT_EQ(renewed.status().code(), absl::StatusCode::kNotFound) << renewed.status();
  EXPECT_EQ(client_->LeaseTimeToLive(lease->id).status().code(), absl::StatusCode::kNotFound);
  // A key cannot be attached to it any more.
  EXPECT_EQ(client_->Put("/l/3", "x", lease->id).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EtcdClientTest, KeepAliveKeepsKeysAndRevokeDeletesThem) {
  absl::StatusOr<LeaseGrantResult> lease = client_->LeaseGrant(2);
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(client_->Put("/r/1", "x", lease->id).ok());
  // Twice the TTL, renewed every half second.
  const absl::Time end = absl::Now() + absl::Seconds(4);
  while (absl::Now() < end) {
    absl::StatusOr<int64_t> renewed = client_->LeaseKeepAliveOnce(lease->id);
    ASSERT_TRUE(renewed.ok()) << renewed.status();
    EXPECT_EQ(*renewed, lease->ttl_seconds);
    absl::SleepFor(absl::Milliseconds(500));
  }
  EXPECT_EQ(KeysUnder(*client_, "/r/"), 1u);
  ASSERT_TRUE(client_->LeaseRevoke(lease->id).ok());
  EXPECT_EQ(KeysUnder(*client_, "/r/"), 0u);
  EXPECT_EQ(client_->LeaseRevoke(lease->id).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->LeaseKeepAliveOnce(lease->id).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(EtcdClientTest, CompactedRevisionIsOutOfRange) {
  absl::StatusOr<int64_t> r1 = client_->Put("/c", "1");
  ASSERT_TRUE(r1.ok()) << r1.status();
  absl::StatusOr<int64_t> r2 = client_->Put("/c", "2");
  ASSERT_TRUE(r2.ok()) << r2.status();
  ASSERT_TRUE(client_->Compact(*r2).ok());
  absl::StatusOr<RangeResult> old = client_->Range("/c", "", *r1);
  EXPECT_EQ(old.status().code(), absl::StatusCode::kOutOfRange) << old.status();
  EXPECT_THAT(old.status().message(), HasSubstr("compacted"));
}

TEST_F(EtcdClientTest, StoppedMemberTimesOutAndAWriteMayHaveBeenApplied) {
  std::unique_ptr<EtcdClient> client = MakeClient(cluster_->endpoints(), absl::Seconds(1));
  ASSERT_TRUE(client->Put("/s", "1").ok());
  ASSERT_TRUE(cluster_->Stop(0).ok());
  const absl::Time start = absl::Now();
  absl::StatusOr<int64_t> put = client->Put("/s", "2");
  EXPECT_LT(absl::Now() - start, testing::Scaled(absl::Seconds(3)));
  EXPECT_EQ(put.status().code(), absl::StatusCode::kDeadlineExceeded) << put.status();
  EXPECT_THAT(put.status().message(), HasSubstr("may have been applied"));
  EXPECT_THAT(put.status().message(), HasSubstr(cluster_->endpoint(0)));
  ASSERT_TRUE(cluster_->Cont(0).ok());
  EXPECT_TRUE(client->Put("/s", "3").ok());
}

TEST_F(EtcdClientTest, KilledMemberIsUnavailableNamingItsEndpoint) {
  ASSERT_TRUE(cluster_->Kill(0).ok());
  // A client that never reached it: no connection can be made.
  std::unique_ptr<EtcdClient> client = MakeClient(cluster_->endpoints(), absl::Seconds(2));
  absl::StatusOr<int64_t> put = client->Put("/u", "1");
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable) << put.status();
  EXPECT_THAT(put.status().message(), HasSubstr(cluster_->endpoint(0)));
  EXPECT_THAT(put.status().message(), ::testing::Not(HasSubstr("may have been applied")));
  ASSERT_TRUE(cluster_->Restart(0).ok());
  EXPECT_TRUE(testing::PollUntil([&] { return client->Put("/u", "2").ok(); },
                                 absl::Seconds(5)));
}

TEST(EtcdClientTlsTest, TalksTlsWithAClientCertificate) {
  if (!testing::EtcdCluster::Installed()) {
    GTEST_SKIP() << testing::EtcdCluster::NotInstalledMessage();
  }
  absl::StatusOr<std::unique_ptr<testing::EtcdCluster>> cluster =
      testing::EtcdCluster::Start(1, testing::EtcdCluster::Security::kTls);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EtcdOptions options;
  options.endpoints = (*cluster)->endpoints();
  ASSERT_THAT(options.endpoints[0], ::testing::StartsWith("https://"));
  options.call_timeout = testing::Scaled(absl::Seconds(5));
  options.ca_file = (*cluster)->ca_file();
  options.cert_file = (*cluster)->client_cert_file();
  options.key_file = (*cluster)->client_key_file();
  absl::StatusOr<std::unique_ptr<EtcdClient>> client = EtcdClient::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<int64_t> put = (*client)->Put("/tls", "x");
  ASSERT_TRUE(put.ok()) << put.status();
  absl::StatusOr<RangeResult> range = (*client)->Range("/tls");
  ASSERT_TRUE(range.ok()) << range.status();
  ASSERT_EQ(range->kvs.size(), 1u);

  // Without a client certificate the member refuses the connection.
  options.cert_file.clear();
  options.key_file.clear();
  options.call_timeout = testing::Scaled(absl::Seconds(2));
  absl::StatusOr<std::unique_ptr<EtcdClient>> anonymous = EtcdClient::Connect(options);
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  EXPECT_EQ((*anonymous)->Range("/tls").status().code(), absl::StatusCode::kUnavailable);
}

TEST(EtcdClientOptionsTest, BadOptionsAreInvalidArgument) {
  EtcdOptions options;
  EXPECT_EQ(EtcdClient::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.endpoints = {"http://127.0.0.1:2379/path"};
  EXPECT_EQ(EtcdClient::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.endpoints = {"https://127.0.0.1:2379"};
  options.ca_file = "/nonexistent/ca.pem";
  absl::StatusOr<std::unique_ptr<EtcdClient>> client = EtcdClient::Connect(options);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(client.status().message(), HasSubstr("/nonexistent/ca.pem"));
}

}  // namespace
}  // namespace portlease::etcd
