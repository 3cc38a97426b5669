// EtcdClient over three real etcd members, one of them killed, stopped or
// restarted: calls go on on the others within their deadline.
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/etcd/etcd_client.h"
#include "tests/server/etcd/etcd_test_util.h"

namespace portlease::etcd {
namespace {

using EtcdFailoverTest = EtcdTest<3>;

// Runs `call`, expects it to succeed within `bound` (scaled).
template <typename Call>
void ExpectOkWithin(absl::Duration bound, Call call, const std::string& what) {
  const absl::Time start = absl::Now();
  absl::Status status = call();
  EXPECT_TRUE(status.ok()) << what << ": " << status;
  EXPECT_LT(absl::Now() - start, testing::Scaled(bound)) << what;
}

// A few creations guarded by absence, each on a fresh key.
void ExpectWritesSucceed(EtcdClient& client, const std::string& prefix, absl::Duration bound) {
  for (int i = 0; i < 5; ++i) {
    const std::string key = absl::StrCat(prefix, i);
    ExpectOkWithin(bound, [&] {
      absl::StatusOr<TxnResult> r = client.Txn({Compare::Absent(key)}, {Op::Put(key, "x")}, {});
      if (r.ok() && !r->succeeded) return absl::InternalError("guard failed");
      return r.status();
    }, key);
  }
}

TEST_F(EtcdFailoverTest, KilledMemberIsPassedOver) {
  std::unique_ptr<EtcdClient> client = MakeClient(cluster_->endpoints(), absl::Seconds(4));
  ExpectWritesSucceed(*client, "/before/", absl::Seconds(5));
  ASSERT_TRUE(cluster_->Kill(0).ok());
  // A read is retried on the next member, through a new election if
  // member 0 led; the writes after it go to that member.
  ExpectOkWithin(absl::Seconds(5), [&] { return client->Range("/before/", PrefixEnd("/before/")).status(); },
                 "range after kill");
  ExpectWritesSucceed(*client, "/after-kill/", absl::Seconds(5));

  ASSERT_TRUE(cluster_->Restart(0).ok());
  std::unique_ptr<EtcdClient> only0 = MakeClient({cluster_->endpoint(0)}, absl::Seconds(4));
  absl::StatusOr<RangeResult> seen = only0->Range("/after-kill/", PrefixEnd("/after-kill/"));
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->kvs.size(), 5u);
}

TEST_F(EtcdFailoverTest, StoppedMemberCostsAReadHalfItsDeadline) {
  std::unique_ptr<EtcdClient> client = MakeClient(cluster_->endpoints(), absl::Seconds(4));
  ExpectWritesSucceed(*client, "/before/", absl::Seconds(5));
  ASSERT_TRUE(cluster_->Stop(0).ok());
  // Member 0 keeps its connections but answers nothing: the read gives it
  // half of its 4 s, then asks member 1.
  ExpectOkWithin(absl::Seconds(5), [&] { return client->Range("/before/", PrefixEnd("/before/")).status(); },
                 "range after stop");
  ASSERT_TRUE(cluster_->WaitHealthy(1, absl::Seconds(10)).ok());
  ExpectWritesSucceed(*client, "/after-stop/", absl::Seconds(5));
  ASSERT_TRUE(cluster_->Cont(0).ok());
  ASSERT_TRUE(cluster_->WaitHealthy(0, absl::Seconds(10)).ok());
  ExpectWritesSucceed(*client, "/after-cont/", absl::Seconds(5));
}

TEST_F(EtcdFailoverTest, LeaseSurvivesTheLossOfAMember) {
  absl::StatusOr<LeaseGrantResult> lease = client_->LeaseGrant(5);
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(client_->Put("/lease/k", "x", lease->id).ok());
  ASSERT_TRUE(cluster_->Kill(0).ok());
  ExpectOkWithin(absl::Seconds(6), [&] { return client_->LeaseKeepAliveOnce(lease->id).status(); },
                 "keepalive after kill");
  absl::StatusOr<LeaseTimeToLiveResult> ttl = client_->LeaseTimeToLive(lease->id, true);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(ttl->keys.size(), 1u);
  ASSERT_TRUE(client_->LeaseRevoke(lease->id).ok());
}

}  // namespace
}  // namespace portlease::etcd
