#include "server/core/lease_manager.h"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/lease_manager_test_fixture.h"

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

TEST_F(LeaseManagerTest, NamedAcquireGrantsAContiguousBlockInRequestOrder) {
  AcquireParams p = Named({"redis", "worker", "orch"});
  p.owner = {{"ci_job", "42"}};
  LeaseRecord lease = MustAcquire(p);
  EXPECT_EQ(lease.id.size(), 32u);
  EXPECT_EQ(lease.count, 3u);
  EXPECT_EQ(lease.base, 20000);
  EXPECT_THAT(lease.names, ElementsAre("redis", "worker", "orch"));
  EXPECT_EQ(lease.ttl, options_.default_ttl);
  EXPECT_EQ(lease.expires_at, clock_.Now() + options_.default_ttl);
  EXPECT_EQ(store_.leases.at(lease.id), lease);  // committed before reply
  EXPECT_THAT(events_, ElementsAre("grant"));
}

TEST_F(LeaseManagerTest, LeasesNeverShareAPortAndIdsDiffer) {
  std::set<Port> used;
  std::set<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    LeaseRecord l = MustAcquire(Counted(3));
    for (uint32_t p = l.base; p <= l.last(); ++p) {
      EXPECT_TRUE(used.insert(static_cast<Port>(p)).second) << p;
    }
    ids.insert(l.id);
  }
  EXPECT_THAT(ids, SizeIs(6));
  EXPECT_EQ(manager_->Stats().free, 2u);
}

TEST_F(LeaseManagerTest, AlwaysExcludedAndExcludedPortsAreNeverGranted) {
  options_.pool = {{6370, 6389}};
  options_.exclude = {6370};
  options_.pool_fit.always_exclude = {6379};
  Restart();
  for (int i = 0; i < 18; ++i) {
    LeaseRecord l = MustAcquire(Counted(1));
    EXPECT_NE(l.base, 6379);
    EXPECT_NE(l.base, 6370);
  }
  EXPECT_EQ(manager_->Acquire(Counted(1)).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(LeaseManagerTest, ExhaustedPoolSaysFreeVersusAsked) {
  MustAcquire(Counted(15));
  auto r = manager_->Acquire(Counted(6));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("cannot serve 6 contiguous ports: 5 of 20 free"));
}

TEST_F(LeaseManagerTest, InvalidRequestsAreRejected) {
  auto bad = [&](AcquireParams p, const std::string& why) {
    auto r = manager_->Acquire(p);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << why;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(why));
  };
  bad(AcquireParams{}, "ask for ports");
  AcquireParams both = Named({"a"});
  both.count = 1;
  bad(both, "not both");
  bad(Named({"Redis"}), "bad port name");
  bad(Named({"1abc"}), "bad port name");
  bad(Named({""}), "bad port name");
  bad(Named({"a b"}), "bad port name");
  bad(Named({std::string(33, 'a')}), "bad port name");
  bad(Named({"a", "a"}), "appears twice");
  bad(Counted(65), "at most 64");
  bad(Named(std::vector<std::string>(10000, "x")), "at most 64");
  AcquireParams ttl = Counted(1);
  ttl.ttl = absl::Hours(25);
  // The bounds, and nothing a client may not do (leave it unset).
  bad(ttl, "ttl 25h is out of range: ask for 1s to 24h");
  EXPECT_THAT(std::string(manager_->Acquire(ttl).status().message()),
              Not(HasSubstr("unset")));
  ttl.ttl = absl::Seconds(-1);
  bad(ttl, "ttl");
  ttl.ttl = absl::Milliseconds(10);
  bad(ttl, "ttl");
  AcquireParams owner = Counted(1);
  owner.owner[std::string(65, 'k')] = "v";
  bad(owner, "owner metadata");
  owner.owner = {{"k", std::string(2000, 'v')}};
  bad(owner, "owner metadata");
  owner.owner.clear();
  for (int i = 0; i < 33; ++i) owner.owner[absl::StrCat("k", i)] = "v";
  bad(owner, "owner metadata");
  AcquireParams rid = Counted(1);
  rid.request_id = std::string(200, 'r');
  bad(rid, "request_id");
  EXPECT_TRUE(store_.leases.empty());
}

TEST_F(LeaseManagerTest, RetryWithSameRequestIdReturnsSameLease) {
  AcquireParams p = Named({"redis"});
  p.request_id = "job-7-attempt-1";
  LeaseRecord first = MustAcquire(p);
  LeaseRecord again = MustAcquire(p);
  EXPECT_EQ(first.id, again.id);
  EXPECT_EQ(store_.leases.size(), 1u);
  AcquireParams other = Named({"redis", "worker"});
  other.request_id = p.request_id;
  EXPECT_EQ(manager_->Acquire(other).status().code(),
            absl::StatusCode::kInvalidArgument);
  // After release the key is free again.
  ASSERT_TRUE(manager_->Release(first.id, kAlice).ok());
  EXPECT_NE(MustAcquire(p).id, first.id);
}

TEST_F(LeaseManagerTest, RenewMovesExpiry) {
  LeaseRecord l = MustAcquire(Counted(1));
  clock_.Advance(absl::Seconds(50));
  auto renewed = manager_->Renew(l.id, absl::ZeroDuration(), kAlice);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(renewed->expires_at, clock_.Now() + absl::Seconds(60));
  EXPECT_EQ(store_.leases.at(l.id).expires_at, renewed->expires_at);
  clock_.Advance(absl::Seconds(50));  // 100 s after grant: alive thanks to renew
  EXPECT_TRUE(manager_->Get(l.id, kAlice).ok());
  auto longer = manager_->Renew(l.id, absl::Minutes(10), kAlice);
  ASSERT_TRUE(longer.ok());
  EXPECT_EQ(longer->ttl, absl::Minutes(10));
  EXPECT_EQ(manager_->Renew(l.id, absl::Hours(48), kAlice).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(manager_->Renew("nope", absl::ZeroDuration(), kAlice).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(LeaseManagerTest, FencingTokensZeroIsUncheckedAnyOtherIsNotThisLeases) {
  LeaseRecord l = MustAcquire(Counted(1));
  EXPECT_EQ(l.fencing_token, 0u);
  EXPECT_TRUE(manager_->Renew(l.id, absl::ZeroDuration(), kAlice, 0).ok());
  absl::StatusOr<LeaseRecord> fenced =
      manager_->Renew(l.id, absl::ZeroDuration(), kAlice, 7);
  EXPECT_EQ(fenced.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(fenced.status().message(), testing::HasSubstr("fencing token"));
  EXPECT_EQ(manager_->Release(l.id, kAlice, 7).code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(manager_->Get(l.id, kAlice).ok());  // nothing changed
  EXPECT_TRUE(manager_->Release(l.id, kAlice, 0).ok());
}

TEST_F(LeaseManagerTest, ExpiryFreesPortsAfterCooldown) {
  LeaseRecord l = MustAcquire(Counted(20));
  clock_.Advance(absl::Seconds(59));
  EXPECT_TRUE(manager_->Get(l.id, kAlice).ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(manager_->Get(l.id, kAlice).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(manager_->Renew(l.id, absl::ZeroDuration(), kAlice).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_.leases.empty());
  PoolStats s = manager_->Stats();
  EXPECT_EQ(s.quarantined, 20u);
  EXPECT_EQ(s.free, 0u);
  EXPECT_EQ(manager_->Acquire(Counted(1)).status().code(),
            absl::StatusCode::kResourceExhausted);
  clock_.Advance(absl::Seconds(30));
  EXPECT_TRUE(manager_->Acquire(Counted(20)).ok());
  EXPECT_THAT(events_, ElementsAre("grant", "expire", "grant"));
}

TEST_F(LeaseManagerTest, JustReleasedPortsAreTheLastChoice) {
  options_.cooldown = absl::ZeroDuration();
  Restart();
  LeaseRecord a = MustAcquire(Counted(2));  // 20000-20001
  ASSERT_TRUE(manager_->Release(a.id, kAlice).ok());
  LeaseRecord b = MustAcquire(Counted(2));
  EXPECT_EQ(b.base, 20002);
}

TEST_F(LeaseManagerTest, ReleaseIsFinalAndUnknownIdsAreNotFound) {
  LeaseRecord l = MustAcquire(Counted(2));
  ASSERT_TRUE(manager_->Release(l.id, kAlice).ok());
  EXPECT_EQ(manager_->Release(l.id, kAlice).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(manager_->Get(l.id, kAlice).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_.leases.empty());
}

TEST_F(LeaseManagerTest, ListFiltersByOwnerAndOrdersByPort) {
  AcquireParams a = Counted(1);
  a.owner = {{"job", "1"}, {"host", "h"}};
  AcquireParams b = Counted(1);
  b.owner = {{"job", "2"}, {"host", "h"}};
  LeaseRecord la = MustAcquire(a);
  LeaseRecord lb = MustAcquire(b);
  EXPECT_THAT(manager_->List({}), SizeIs(2));
  auto only = manager_->List({{"job", "2"}});
  ASSERT_THAT(only, SizeIs(1));
  EXPECT_EQ(only[0].id, lb.id);
  EXPECT_THAT(manager_->List({{"host", "h"}, {"job", "1"}}), SizeIs(1));
  EXPECT_THAT(manager_->List({{"job", "3"}}), SizeIs(0));
  EXPECT_LT(manager_->List({})[0].base, manager_->List({})[1].base);
  (void)la;
}

TEST_F(LeaseManagerTest, LostHolderIsReclaimedAfterGrace) {
  LeaseRecord l = MustAcquire(Counted(1));
  ASSERT_TRUE(manager_->AttachHolder(l.id, kAlice).ok());
  ASSERT_TRUE(manager_->AttachHolder(l.id, kAlice).ok());
  manager_->DetachHolder(l.id);  // one holder remains
  clock_.Advance(absl::Seconds(10));
  manager_->Tick();
  EXPECT_TRUE(manager_->Get(l.id, kAlice).ok());
  manager_->DetachHolder(l.id);  // last one gone
  clock_.Advance(absl::Seconds(1));
  manager_->Tick();
  EXPECT_TRUE(manager_->Get(l.id, kAlice).ok());
  clock_.Advance(absl::Seconds(1));
  manager_->Tick();
  EXPECT_EQ(manager_->Get(l.id, kAlice).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(events_, ElementsAre("grant", "reclaim"));
}

TEST_F(LeaseManagerTest, HolderReattachingWithinGraceKeepsTheLease) {
  LeaseRecord l = MustAcquire(Counted(1));
  ASSERT_TRUE(manager_->AttachHolder(l.id, kAlice).ok());
  manager_->DetachHolder(l.id);
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(manager_->AttachHolder(l.id, kAlice).ok());
  clock_.Advance(absl::Seconds(5));
  manager_->Tick();
  EXPECT_TRUE(manager_->Get(l.id, kAlice).ok());
  EXPECT_EQ(manager_->AttachHolder("missing", kAlice).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(LeaseManagerTest, StoreFailureGrantsNothingAndRecovers) {
  store_.fail = absl::UnavailableError("disk full");
  auto r = manager_->Acquire(Counted(5));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("disk full"));
  EXPECT_EQ(manager_->Stats().free, 20u);
  store_.fail = absl::OkStatus();
  LeaseRecord l = MustAcquire(Counted(5));
  store_.fail = absl::UnavailableError("disk full");
  EXPECT_EQ(manager_->Release(l.id, kAlice).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(manager_->Renew(l.id, absl::ZeroDuration(), kAlice).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(manager_->Get(l.id, kAlice).ok());
  // Expiry that cannot be committed keeps the ports out of the pool.
  clock_.Advance(absl::Minutes(2));
  manager_->Tick();
  EXPECT_EQ(manager_->Stats().leased, 5u);
  store_.fail = absl::OkStatus();
  manager_->Tick();
  EXPECT_EQ(manager_->Stats().leased, 0u);
  EXPECT_TRUE(store_.leases.empty());
}

TEST_F(LeaseManagerTest, ViewPortAndStats) {
  LeaseRecord l = MustAcquire(Named({"a", "b"}));
  EXPECT_EQ(manager_->ViewPort(l.base + 1).lease->id, l.id);
  EXPECT_EQ(manager_->ViewPort(l.base + 2).state, PortView::State::kFree);
  EXPECT_FALSE(manager_->ViewPort(l.base + 2).lease.has_value());
  EXPECT_EQ(manager_->ViewPort(6379).state, PortView::State::kOutsidePool);
  PoolStats s = manager_->Stats();
  EXPECT_EQ(s.pool_size, 20u);
  EXPECT_EQ(s.leased, 2u);
  EXPECT_EQ(s.free, 18u);
  EXPECT_EQ(s.largest_free_block, 18u);
  EXPECT_EQ(s.live_leases, 1u);
}

}  // namespace
}  // namespace portlease
