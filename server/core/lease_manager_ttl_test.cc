// LeaseManager keeps the expiry it acknowledged across restarts with other
// limits, and applies today's limits from the next renewal.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "server/core/fake_clock.h"
#include "server/core/fake_prober.h"
#include "server/core/fake_store.h"
#include "server/core/lease_manager.h"
#include "server/core/test_callers.h"

namespace portlease {
namespace {

class LeaseTtlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.pool = {{20000, 20009}};
    options_.cooldown = absl::ZeroDuration();
    options_.max_ttl = absl::Hours(24);
    Restart();
  }
  void Restart() {
    manager_.reset();
    auto m = LeaseManager::Create(options_, &clock_, &store_, &prober_);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  LeaseRecord MustAcquire(absl::Duration ttl) {
    AcquireParams p;
    p.count = 1;
    p.ttl = ttl;
    p.caller = kAlice;
    auto lease = manager_->Acquire(p);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? *lease : LeaseRecord{};
  }
  // Restarts with --max-ttl (and --default-ttl) lowered to `max`.
  void RestartWithMaxTtl(absl::Duration max) {
    options_.max_ttl = max;
    options_.default_ttl = std::min(options_.default_ttl, max);
    options_.min_ttl = std::min(options_.min_ttl, max);
    Restart();
  }

  LeaseManagerOptions options_;
  FakeClock clock_;
  MapStore store_;
  FakeProber prober_;
  std::unique_ptr<LeaseManager> manager_;
};

TEST_F(LeaseTtlTest, RestartWithLowerMaxTtlKeepsTheAcknowledgedExpiry) {
  const LeaseRecord lease = MustAcquire(absl::Seconds(59));
  clock_.Advance(absl::Seconds(1));
  RestartWithMaxTtl(absl::Seconds(5));
  clock_.Advance(absl::Seconds(53));
  manager_->Tick();
  absl::StatusOr<LeaseRecord> got = manager_->Get(lease.id, kAlice);
  ASSERT_TRUE(got.ok()) << "ended early: " << got.status();
  EXPECT_EQ(got->expires_at, lease.expires_at);
  clock_.Advance(absl::Seconds(6));
  manager_->Tick();
  EXPECT_EQ(manager_->Get(lease.id, kAlice).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(LeaseTtlTest, RenewWithoutTtlIsClampedToTheCurrentMaximum) {
  const LeaseRecord lease = MustAcquire(absl::Hours(20));
  RestartWithMaxTtl(absl::Hours(1));
  absl::StatusOr<LeaseRecord> renewed = manager_->Renew(lease.id, absl::ZeroDuration(), kAlice);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(renewed->ttl, absl::Hours(1));
  EXPECT_EQ(renewed->expires_at, clock_.Now() + absl::Hours(1));
  EXPECT_EQ(store_.leases.at(lease.id).ttl, absl::Hours(1));  // stored so
  // An explicit ttl above the maximum is still refused.
  EXPECT_EQ(manager_->Renew(lease.id, absl::Hours(2), kAlice).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(LeaseTtlTest, RenewWithoutTtlIsRaisedToANewMinimum) {
  const LeaseRecord lease = MustAcquire(absl::Seconds(10));
  options_.min_ttl = absl::Seconds(30);
  Restart();
  absl::StatusOr<LeaseRecord> renewed = manager_->Renew(lease.id, absl::ZeroDuration(), kAlice);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(renewed->ttl, absl::Seconds(30));
}

// A wall clock set back while the server was down must not stretch a lease
// beyond the ttl it was granted for.
TEST_F(LeaseTtlTest, WallClockSetBackIsCappedByTheLeasesTtl) {
  const LeaseRecord lease = MustAcquire(absl::Seconds(60));
  manager_.reset();
  clock_.StepWall(-absl::Hours(1));
  Restart();
  absl::StatusOr<LeaseRecord> got = manager_->Get(lease.id, kAlice);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->expires_at, clock_.Now() + absl::Seconds(60));
  clock_.Advance(absl::Seconds(61));
  manager_->Tick();
  EXPECT_EQ(manager_->Get(lease.id, kAlice).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace portlease
