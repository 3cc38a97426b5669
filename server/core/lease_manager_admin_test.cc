// LeaseManager's administration and per-owner limits: ForceRelease,
// DrainPort/UndrainPort, max_leases_per_owner, DefaultOwnerKey.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/fake_clock.h"
#include "server/core/fake_prober.h"
#include "server/core/lease_manager.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

class MapStore : public LeaseStore {
 public:
  absl::StatusOr<std::vector<LeaseRecord>> LoadAll() override {
    std::vector<LeaseRecord> out;
    for (const auto& [id, r] : leases) out.push_back(r);
    return out;
  }
  absl::Status Put(const LeaseRecord& lease) override {
    leases[lease.id] = lease;
    return absl::OkStatus();
  }
  absl::Status Delete(const std::string& id) override {
    leases.erase(id);
    return absl::OkStatus();
  }
  std::map<std::string, LeaseRecord> leases;
};

class LeaseAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.pool = {{20000, 20009}};
    options_.cooldown = absl::ZeroDuration();
    options_.max_leases_per_owner = 2;
    options_.on_event = [this](const LeaseEvent& e) {
      events_.push_back(LeaseEventName(e.type));
    };
    auto m = LeaseManager::Create(options_, &clock_, &store_, &prober_);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  static AcquireParams Counted(uint32_t count, Metadata owner = {}) {
    AcquireParams p;
    p.count = count;
    p.owner = std::move(owner);
    return p;
  }
  LeaseRecord MustAcquire(const AcquireParams& p) {
    auto lease = manager_->Acquire(p);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? *lease : LeaseRecord{};
  }

  LeaseManagerOptions options_;
  FakeClock clock_;
  MapStore store_;
  FakeProber prober_;
  std::vector<std::string> events_;
  std::unique_ptr<LeaseManager> manager_;
};

TEST_F(LeaseAdminTest, ForceReleaseByPrefixOrPort) {
  LeaseRecord a = MustAcquire(Counted(2));
  LeaseRecord b = MustAcquire(Counted(3));
  auto ended = manager_->ForceRelease(a.IdPrefix(), 0);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->id, a.id);
  EXPECT_TRUE(absl::IsNotFound(manager_->Get(a.id).status()));
  EXPECT_FALSE(store_.leases.contains(a.id));

  ended = manager_->ForceRelease("", static_cast<Port>(b.base + 2));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->id, b.id);
  EXPECT_EQ(events_.back(), "force-release");
  EXPECT_EQ(manager_->Stats().live_leases, 0u);
}

TEST_F(LeaseAdminTest, ForceReleaseRejectsBadTargets) {
  LeaseRecord a = MustAcquire(Counted(1));
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->ForceRelease("", 0).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      manager_->ForceRelease(a.IdPrefix(), a.base).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      manager_->ForceRelease(a.id.substr(0, 7), 0).status()));
  EXPECT_TRUE(
      absl::IsNotFound(manager_->ForceRelease("ffffffffffff", 0).status()));
  EXPECT_TRUE(absl::IsNotFound(manager_->ForceRelease("", 20009).status()));
  EXPECT_TRUE(manager_->Get(a.id).ok());
}

TEST_F(LeaseAdminTest, ForceReleaseRefusesAnAmbiguousPrefix) {
  int n = 0;
  options_.new_id = [&n] { return "abcdef01" + std::string(23, '0') + std::to_string(n++); };
  auto m = LeaseManager::Create(options_, &clock_, &store_, &prober_);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->Acquire(Counted(1)).ok());
  ASSERT_TRUE((*m)->Acquire(Counted(1)).ok());
  absl::Status s = (*m)->ForceRelease("abcdef01", 0).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("matches 2"));
}

TEST_F(LeaseAdminTest, DrainedPortIsNeverGrantedUntilUndrained) {
  ASSERT_TRUE(manager_->DrainPort(20000).ok());
  ASSERT_TRUE(manager_->DrainPort(20000).ok());  // idempotent
  EXPECT_EQ(manager_->ViewPort(20000).state, PortView::State::kDisabled);
  PoolStats stats = manager_->Stats();
  EXPECT_EQ(stats.disabled, 1u);
  EXPECT_EQ(stats.free, 9u);
  EXPECT_EQ(stats.largest_free_block, 9u);
  // Nine ports are left and the tenth never comes.
  LeaseRecord nine = MustAcquire(Counted(9));
  EXPECT_EQ(nine.base, 20001);
  EXPECT_TRUE(absl::IsResourceExhausted(manager_->Acquire(Counted(1)).status()));
  ASSERT_TRUE(manager_->UndrainPort(20000).ok());
  EXPECT_EQ(MustAcquire(Counted(1)).base, 20000);
  EXPECT_TRUE(manager_->UndrainPort(20000).ok());  // idempotent
}

TEST_F(LeaseAdminTest, DrainingALeasedPortTakesEffectWhenTheLeaseEnds) {
  LeaseRecord a = MustAcquire(Counted(2));
  ASSERT_TRUE(manager_->DrainPort(a.base).ok());
  EXPECT_EQ(manager_->ViewPort(a.base).state, PortView::State::kLeased);
  ASSERT_TRUE(manager_->Release(a.id).ok());
  EXPECT_EQ(manager_->ViewPort(a.base).state, PortView::State::kDisabled);
  EXPECT_EQ(manager_->ViewPort(a.base + 1).state, PortView::State::kFree);
  EXPECT_EQ(manager_->Stats().free, 9u);
}

TEST_F(LeaseAdminTest, DrainOutsideThePoolIsInvalid) {
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->DrainPort(19999)));
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->UndrainPort(30000)));
}

TEST_F(LeaseAdminTest, OwnerLimitCountsLiveLeasesPerOwner) {
  const Metadata alice = {{"peer_uid", "1000"}, {"user", "alice"}};
  const Metadata bob = {{"peer_uid", "1001"}};
  LeaseRecord first = MustAcquire(Counted(1, alice));
  MustAcquire(Counted(1, alice));
  absl::Status third = manager_->Acquire(Counted(1, alice)).status();
  EXPECT_TRUE(absl::IsResourceExhausted(third));
  EXPECT_THAT(third.message(), HasSubstr("peer_uid=1000 already holds 2"));
  MustAcquire(Counted(1, bob));
  // Unidentified owners are not counted.
  MustAcquire(Counted(1));
  MustAcquire(Counted(1));
  MustAcquire(Counted(1));
  ASSERT_TRUE(manager_->Release(first.id).ok());
  MustAcquire(Counted(1, alice));
}

TEST_F(LeaseAdminTest, OwnerLimitIsAnsweredAtOnceNotQueued) {
  const Metadata alice = {{"peer_uid", "1000"}};
  MustAcquire(Counted(1, alice));
  MustAcquire(Counted(1, alice));
  absl::Status got = absl::UnknownError("not called");
  const uint64_t ticket = manager_->AcquireOrWait(
      Counted(1, alice), clock_.Monotonic() + absl::Seconds(10),
      [&got](absl::StatusOr<LeaseRecord> r) { got = r.status(); });
  EXPECT_EQ(ticket, 0u);
  EXPECT_TRUE(absl::IsResourceExhausted(got));
  EXPECT_EQ(manager_->Stats().waiters, 0u);
}

TEST_F(LeaseAdminTest, RetriedRequestIdIsNotCountedTwice) {
  AcquireParams p = Counted(1, {{"peer_uid", "7"}});
  p.request_id = "r1";
  MustAcquire(p);
  MustAcquire(Counted(1, {{"peer_uid", "7"}}));
  EXPECT_TRUE(manager_->Acquire(p).ok());
}

TEST(DefaultOwnerKeyTest, PrefersUidThenJobThenAddress) {
  EXPECT_EQ(DefaultOwnerKey({{"peer_uid", "5"}, {"CI_JOB_ID", "9"}}),
            "peer_uid=5");
  EXPECT_EQ(DefaultOwnerKey({{"CI_JOB_ID", "9"}, {"peer_addr", "10.0.0.1"}}),
            "CI_JOB_ID=9");
  EXPECT_EQ(DefaultOwnerKey({{"GITHUB_RUN_ID", "3"}, {"GITHUB_JOB", "b"}}),
            "GITHUB_RUN_ID=3,GITHUB_JOB=b");
  EXPECT_EQ(DefaultOwnerKey({{"peer_addr", "10.0.0.1"}}), "peer_addr=10.0.0.1");
  EXPECT_EQ(DefaultOwnerKey({{"user", "x"}}), "");
}

}  // namespace
}  // namespace portlease
