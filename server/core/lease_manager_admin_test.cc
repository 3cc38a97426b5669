// LeaseManager's administration and per-owner limits: ForceRelease,
// DrainPort/UndrainPort, max_leases_per_owner (per caller).
#include <map>
#include <optional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/fake_clock.h"
#include "server/core/fake_prober.h"
#include "server/core/fake_store.h"
#include "server/core/lease_manager.h"
#include "server/core/test_callers.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

class LeaseAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.pool = {{20000, 20009}};
    options_.cooldown = absl::ZeroDuration();
    options_.max_leases_per_owner = 0;
    options_.on_event = [this](const LeaseEvent& e) {
      events_.push_back(LeaseEventName(e.type));
    };
    Start();
  }
  void Start() {
    manager_.reset();
    auto m = LeaseManager::Create(options_, &clock_, &store_, &prober_);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  static AcquireParams Counted(uint32_t count, Metadata owner = {},
                               const Principal& caller = kAlice) {
    AcquireParams p;
    p.count = count;
    p.owner = std::move(owner);
    p.caller = caller;
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
  auto ended = manager_->ForceRelease(a.IdPrefix(), 0, kAlice);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->id, a.id);
  EXPECT_TRUE(absl::IsNotFound(manager_->Get(a.id, kAlice).status()));
  EXPECT_FALSE(store_.leases.contains(a.id));

  ended = manager_->ForceRelease("", static_cast<Port>(b.base + 2), kAlice);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->id, b.id);
  EXPECT_EQ(events_.back(), "force-release");
  EXPECT_EQ(manager_->Stats().live_leases, 0u);
}

TEST_F(LeaseAdminTest, ForceReleaseRejectsBadTargets) {
  LeaseRecord a = MustAcquire(Counted(1));
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->ForceRelease("", 0, kAlice).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      manager_->ForceRelease(a.IdPrefix(), a.base, kAlice).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      manager_->ForceRelease(a.id.substr(0, 7), 0, kAlice).status()));
  EXPECT_TRUE(
      absl::IsNotFound(manager_->ForceRelease("ffffffffffff", 0, kAlice).status()));
  EXPECT_TRUE(absl::IsNotFound(manager_->ForceRelease("", 20009, kAlice).status()));
  EXPECT_TRUE(manager_->Get(a.id, kAlice).ok());
}

TEST_F(LeaseAdminTest, ForceReleaseRefusesAnAmbiguousPrefix) {
  int n = 0;
  options_.new_id = [&n] { return "abcdef01" + std::string(23, '0') + std::to_string(n++); };
  auto m = LeaseManager::Create(options_, &clock_, &store_, &prober_);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->Acquire(Counted(1)).ok());
  ASSERT_TRUE((*m)->Acquire(Counted(1)).ok());
  absl::Status s = (*m)->ForceRelease("abcdef01", 0, kAlice).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("matches 2"));
}

TEST_F(LeaseAdminTest, DrainedPortIsNeverGrantedUntilUndrained) {
  ASSERT_TRUE(manager_->DrainPort(20000, kAlice).ok());
  ASSERT_TRUE(manager_->DrainPort(20000, kAlice).ok());  // idempotent
  EXPECT_EQ(manager_->ViewPort(20000).state, PortView::State::kDisabled);
  PoolStats stats = manager_->Stats();
  EXPECT_EQ(stats.disabled, 1u);
  EXPECT_EQ(stats.free, 9u);
  EXPECT_EQ(stats.largest_free_block, 9u);
  // Nine ports are left and the tenth never comes.
  LeaseRecord nine = MustAcquire(Counted(9));
  EXPECT_EQ(nine.base, 20001);
  EXPECT_TRUE(absl::IsResourceExhausted(manager_->Acquire(Counted(1)).status()));
  ASSERT_TRUE(manager_->UndrainPort(20000, kAlice).ok());
  EXPECT_EQ(MustAcquire(Counted(1)).base, 20000);
  EXPECT_TRUE(manager_->UndrainPort(20000, kAlice).ok());  // idempotent
}

TEST_F(LeaseAdminTest, DrainingALeasedPortTakesEffectWhenTheLeaseEnds) {
  LeaseRecord a = MustAcquire(Counted(2));
  ASSERT_TRUE(manager_->DrainPort(a.base, kAlice).ok());
  EXPECT_EQ(manager_->ViewPort(a.base).state, PortView::State::kLeased);
  ASSERT_TRUE(manager_->Release(a.id, kAlice).ok());
  EXPECT_EQ(manager_->ViewPort(a.base).state, PortView::State::kDisabled);
  EXPECT_EQ(manager_->ViewPort(a.base + 1).state, PortView::State::kFree);
  EXPECT_EQ(manager_->Stats().free, 9u);
}

TEST_F(LeaseAdminTest, DrainOutsideThePoolIsInvalid) {
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->DrainPort(19999, kAlice)));
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->UndrainPort(30000, kAlice)));
}

TEST_F(LeaseAdminTest, DrainedPortsSurviveARestart) {
  ASSERT_TRUE(manager_->DrainPort(20003, kAlice).ok());
  EXPECT_THAT(store_.drained, ::testing::ElementsAre(20003));
  manager_.reset();
  auto m = LeaseManager::Create(options_, &clock_, &store_, &prober_);
  ASSERT_TRUE(m.ok()) << m.status();
  manager_ = std::move(*m);
  EXPECT_EQ(manager_->ViewPort(20003).state, PortView::State::kDisabled);
  EXPECT_EQ(manager_->Stats().disabled, 1u);
  EXPECT_EQ(manager_->Stats().largest_free_block, 6u);
  ASSERT_TRUE(manager_->UndrainPort(20003, kAlice).ok());
  EXPECT_THAT(store_.drained, ::testing::IsEmpty());
  manager_.reset();
  m = LeaseManager::Create(options_, &clock_, &store_, &prober_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->ViewPort(20003).state, PortView::State::kFree);
}

TEST_F(LeaseAdminTest, DrainThatTheStoreRefusesChangesNothing) {
  store_.fail = absl::UnavailableError("disk full");
  absl::Status s = manager_->DrainPort(20002, kAlice);
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("stays in service"));
  EXPECT_EQ(manager_->ViewPort(20002).state, PortView::State::kFree);
  store_.fail = absl::OkStatus();
  ASSERT_TRUE(manager_->DrainPort(20002, kAlice).ok());
  store_.fail = absl::UnavailableError("disk full");
  EXPECT_TRUE(absl::IsUnavailable(manager_->UndrainPort(20002, kAlice)));
  EXPECT_EQ(manager_->ViewPort(20002).state, PortView::State::kDisabled);
  EXPECT_THAT(store_.drained, ::testing::ElementsAre(20002));
}

TEST_F(LeaseAdminTest, SetPoolGrantsFromTheNewPoolOnly) {
  auto change = manager_->SetPool({{21000, 21004}}, {21004}, kAlice);
  ASSERT_TRUE(change.ok()) << change.status();
  EXPECT_EQ(change->pool_size, 4u);
  EXPECT_EQ(change->leases_outside_pool, 0u);
  EXPECT_EQ(events_.back(), "pool-change");
  PoolStats stats = manager_->Stats();
  EXPECT_EQ(stats.pool_size, 4u);
  EXPECT_EQ(stats.free, 4u);
  EXPECT_EQ(manager_->ViewPort(20000).state, PortView::State::kOutsidePool);
  EXPECT_EQ(manager_->ViewPort(21004).state, PortView::State::kExcluded);
  EXPECT_EQ(MustAcquire(Counted(4)).base, 21000);
  EXPECT_TRUE(absl::IsResourceExhausted(manager_->Acquire(Counted(1)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->DrainPort(20000, kAlice)));
}

TEST_F(LeaseAdminTest, SetPoolLeavesLeasesOutsideItValidButNeverRegrants) {
  LeaseRecord a = MustAcquire(Counted(2));  // 20000-20001
  ASSERT_EQ(a.base, 20000);
  auto change = manager_->SetPool({{20001, 20009}}, {}, kAlice);
  ASSERT_TRUE(change.ok()) << change.status();
  EXPECT_EQ(change->pool_size, 9u);
  EXPECT_EQ(change->leases_outside_pool, 1u);
  EXPECT_EQ(manager_->Stats().free, 8u);  // 20001 is still a's
  EXPECT_TRUE(manager_->Get(a.id, kAlice).ok());
  EXPECT_TRUE(manager_->Renew(a.id, absl::ZeroDuration(), kAlice).ok());
  EXPECT_EQ(manager_->ViewPort(20000).state, PortView::State::kLeased);
  ASSERT_TRUE(manager_->Release(a.id, kAlice).ok());
  EXPECT_EQ(manager_->ViewPort(20000).state, PortView::State::kOutsidePool);
  EXPECT_EQ(manager_->ViewPort(20001).state, PortView::State::kFree);
  PoolStats stats = manager_->Stats();
  EXPECT_EQ(stats.pool_size, 9u);
  EXPECT_EQ(stats.free, 9u);
  // All nine, and never 20000.
  LeaseRecord all = MustAcquire(Counted(9));
  EXPECT_EQ(all.base, 20001);
  EXPECT_TRUE(absl::IsResourceExhausted(manager_->Acquire(Counted(1)).status()));
}

TEST_F(LeaseAdminTest, SetPoolRefusesAnEmptyOrOverlappingPoolAndChangesNothing) {
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->SetPool({}, {}, kAlice).status()));
  // Only an always-excluded port (the options' pool_fit): nothing left,
  // whatever the new exclude list says.
  options_.pool_fit.always_exclude = {6379};
  Start();
  absl::Status refused = manager_->SetPool({{6379, 6379}}, {}, kAlice).status();
  EXPECT_TRUE(absl::IsInvalidArgument(refused));
  EXPECT_EQ(refused.message(),
            "the pool '6379' has no port left once the excluded ports are "
            "taken out; the pool was not changed");
  EXPECT_TRUE(absl::IsInvalidArgument(
      manager_->SetPool({{30000, 30001}}, {30000, 30001}, kAlice).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      manager_->SetPool({{30000, 30010}, {30005, 30020}}, {}, kAlice).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      manager_->SetPool({{0, 10}}, {}, kAlice).status()));
  EXPECT_EQ(manager_->Stats().pool_size, 10u);
  EXPECT_EQ(MustAcquire(Counted(1)).base, 20000);
}

TEST_F(LeaseAdminTest, DrainedPortsStayDrainedAcrossSetPool) {
  ASSERT_TRUE(manager_->DrainPort(20006, kAlice).ok());
  ASSERT_TRUE(manager_->DrainPort(20001, kAlice).ok());
  ASSERT_TRUE(manager_->SetPool({{20005, 20009}}, {}, kAlice).ok());
  EXPECT_EQ(manager_->ViewPort(20006).state, PortView::State::kDisabled);
  EXPECT_EQ(manager_->Stats().disabled, 1u);
  EXPECT_EQ(manager_->Stats().free, 4u);
  // 20001 left the pool drained: it can still be undrained, not drained.
  EXPECT_TRUE(manager_->UndrainPort(20001, kAlice).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->DrainPort(20001, kAlice)));
  EXPECT_THAT(store_.drained, ::testing::ElementsAre(20006));
  // Back into the pool: 20006 is still drained.
  ASSERT_TRUE(manager_->SetPool({{20000, 20009}}, {}, kAlice).ok());
  EXPECT_EQ(manager_->ViewPort(20006).state, PortView::State::kDisabled);
  EXPECT_EQ(manager_->ViewPort(20001).state, PortView::State::kFree);
}

TEST_F(LeaseAdminTest, SetPoolServesWaiters) {
  MustAcquire(Counted(10));
  absl::StatusOr<LeaseRecord> got = absl::UnknownError("not called");
  const uint64_t ticket = manager_->AcquireOrWait(
      Counted(3), clock_.Monotonic() + absl::Seconds(10),
      [&got](absl::StatusOr<LeaseRecord> r) { got = std::move(r); });
  EXPECT_NE(ticket, 0u);
  ASSERT_TRUE(manager_->SetPool({{20000, 20009}, {22000, 22009}}, {}, kAlice).ok());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->base, 22000);
}

// The limit counts the caller the transport proved, never client metadata:
// another CI_JOB_ID per request does not split it.
TEST_F(LeaseAdminTest, OwnerLimitCountsLiveLeasesPerCaller) {
  options_.max_leases_per_owner = 2;
  Start();
  LeaseRecord first = MustAcquire(Counted(1, {{"CI_JOB_ID", "1"}}));
  MustAcquire(Counted(1, {{"CI_JOB_ID", "2"}}));
  absl::Status third =
      manager_->Acquire(Counted(1, {{"CI_JOB_ID", "3"}})).status();
  EXPECT_TRUE(absl::IsResourceExhausted(third));
  EXPECT_THAT(third.message(), HasSubstr("caller uid:1000 already holds 2"));
  MustAcquire(Counted(1, {{"CI_JOB_ID", "3"}}, kBob));
  // Leases without a recorded caller are not counted.
  MustAcquire(Counted(1, {}, Principal{}));
  MustAcquire(Counted(1, {}, Principal{}));
  MustAcquire(Counted(1, {}, Principal{}));
  ASSERT_TRUE(manager_->Release(first.id, kAlice).ok());
  MustAcquire(Counted(1));
}

TEST_F(LeaseAdminTest, OwnerLimitIsAnsweredAtOnceNotQueued) {
  options_.max_leases_per_owner = 2;
  Start();
  MustAcquire(Counted(1));
  MustAcquire(Counted(1));
  absl::Status got = absl::UnknownError("not called");
  const uint64_t ticket = manager_->AcquireOrWait(
      Counted(1, {{"CI_JOB_ID", "other"}}),
      clock_.Monotonic() + absl::Seconds(10),
      [&got](absl::StatusOr<LeaseRecord> r) { got = r.status(); });
  EXPECT_EQ(ticket, 0u);
  EXPECT_TRUE(absl::IsResourceExhausted(got));
  EXPECT_EQ(manager_->Stats().waiters, 0u);
}

TEST_F(LeaseAdminTest, RetriedRequestIdIsNotCountedTwice) {
  options_.max_leases_per_owner = 2;
  Start();
  AcquireParams p = Counted(1);
  p.request_id = "r1";
  MustAcquire(p);
  MustAcquire(Counted(1));
  EXPECT_TRUE(manager_->Acquire(p).ok());
}

// A request larger than the whole pool can never be granted: it is refused
// at once, waiting or not, and says the pool's size.
TEST_F(LeaseAdminTest, RequestLargerThanThePoolIsRefusedAtOnce) {
  auto now = manager_->Acquire(Counted(11));
  EXPECT_EQ(now.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(now.status().message(), HasSubstr("the whole pool has 10"));
  std::optional<absl::Status> waited;
  manager_->AcquireOrWait(Counted(11), clock_.Monotonic() + absl::Hours(1),
                        [&](absl::StatusOr<LeaseRecord> r) {
                          waited = r.status();
                        });
  ASSERT_TRUE(waited.has_value()) << "the request was queued";
  EXPECT_EQ(waited->code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(manager_->Acquire(Counted(10)).ok());
}

}  // namespace
}  // namespace portlease
