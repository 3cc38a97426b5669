// LeaseManager under the server's own limits: probe faults (the server out
// of file descriptors) and the per-caller share of the pool.
#include <memory>
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

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const absl::Status kOutOfFds = absl::UnavailableError(
    "server out of file descriptors (Too many open files) while probing "
    "ports");

class LeaseManagerLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.pool = {{20000, 20019}};
    options_.cooldown = absl::ZeroDuration();
    options_.on_event = [this](const LeaseEvent& e) {
      events_.push_back(LeaseEventName(e.type));
    };
    Restart();
  }
  void Restart() {
    manager_.reset();
    auto m = LeaseManager::Create(options_, &clock_, &store_, &prober_);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  static AcquireParams Counted(uint32_t count, const Principal& by = kAlice) {
    AcquireParams p;
    p.count = count;
    p.caller = by;
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

TEST_F(LeaseManagerLimitsTest, ProbeFaultFailsTheGrantAndMarksNothingBusy) {
  prober_.SetFault(kOutOfFds);
  absl::StatusOr<LeaseRecord> lease = manager_->Acquire(Counted(3));
  EXPECT_EQ(lease.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(lease.status().message(),
              HasSubstr("server out of file descriptors"));
  PoolStats stats = manager_->Stats();
  EXPECT_EQ(stats.busy, 0u);
  EXPECT_EQ(stats.free, 20u);  // the reserved block was given back
  EXPECT_EQ(stats.leased, 0u);
  EXPECT_THAT(store_.leases, IsEmpty());
  EXPECT_THAT(events_, Not(Contains("foreign-busy")));
  // Queued requests are answered at once too: waiting for a port would not
  // bring descriptors back, and the client's retry may.
  absl::StatusOr<LeaseRecord> waited = absl::UnknownError("not called");
  manager_->AcquireOrWait(Counted(1), clock_.Monotonic() + absl::Seconds(5),
                          [&](absl::StatusOr<LeaseRecord> r) { waited = r; });
  EXPECT_EQ(waited.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(manager_->Stats().waiters, 0u);

  prober_.SetFault(absl::OkStatus());
  EXPECT_EQ(MustAcquire(Counted(3)).base, 20000);  // the same ports, free
}

TEST_F(LeaseManagerLimitsTest, ExpiryDuringAProbeFaultEndsAtALaterTick) {
  LeaseRecord lease = MustAcquire(Counted(2));
  prober_.SetFault(kOutOfFds);
  clock_.Advance(options_.default_ttl + absl::Seconds(1));
  manager_->Tick();
  // Not ended, not draining, nothing busy: the probe said nothing.
  EXPECT_TRUE(store_.leases.contains(lease.id));
  EXPECT_EQ(store_.leases.at(lease.id).state, LeaseState::kLive);
  EXPECT_EQ(manager_->Stats().draining, 0u);
  EXPECT_EQ(manager_->Stats().busy, 0u);
  EXPECT_THAT(events_, Not(Contains("expire")));

  prober_.SetFault(absl::OkStatus());
  manager_->Tick();
  EXPECT_FALSE(store_.leases.contains(lease.id));
  EXPECT_THAT(events_, Contains("expire"));
  EXPECT_EQ(manager_->Stats().free, 20u);
}

TEST_F(LeaseManagerLimitsTest, ReleasedPortsAreProbedAgainAfterAFault) {
  LeaseRecord lease = MustAcquire(Counted(2));
  ASSERT_TRUE(manager_->Release(lease.id, kAlice).ok());
  prober_.SetFault(kOutOfFds);
  manager_->Tick();  // the release check faults: kept for the next Tick
  EXPECT_EQ(manager_->Stats().draining, 0u);
  EXPECT_EQ(manager_->NextTickDue(), clock_.Monotonic());

  // A leaked listener on the released ports is still found afterwards.
  prober_.SetFault(absl::OkStatus());
  prober_.SetBusy(lease.base, true);
  manager_->Tick();
  EXPECT_EQ(manager_->Stats().draining_leases, 1u);
}

TEST_F(LeaseManagerLimitsTest, DrainingLeaseStaysDrainingOnAProbeFault) {
  LeaseRecord lease = MustAcquire(Counted(1));
  prober_.SetBusy(lease.base, true);
  clock_.Advance(options_.default_ttl + absl::Seconds(1));
  manager_->Tick();
  ASSERT_EQ(manager_->Stats().draining_leases, 1u);

  prober_.SetBusy(lease.base, false);
  prober_.SetFault(kOutOfFds);
  clock_.Advance(options_.drain_probe_interval);
  manager_->Tick();
  EXPECT_EQ(manager_->Stats().draining_leases, 1u);  // not ended on a fault

  prober_.SetFault(absl::OkStatus());
  clock_.Advance(options_.drain_probe_interval);
  manager_->Tick();
  EXPECT_EQ(manager_->Stats().draining_leases, 0u);
  EXPECT_THAT(events_, Contains("drained"));
}

TEST_F(LeaseManagerLimitsTest, ForceReleaseDuringAProbeFaultSaysSo) {
  LeaseRecord lease = MustAcquire(Counted(1));
  prober_.SetFault(kOutOfFds);
  absl::StatusOr<LeaseRecord> ended =
      manager_->ForceRelease(lease.id.substr(0, 8), 0, kRoot);
  EXPECT_EQ(ended.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(ended.status().message(),
              HasSubstr("server out of file descriptors"));
  EXPECT_TRUE(store_.leases.contains(lease.id));
}

TEST_F(LeaseManagerLimitsTest, PortsPerOwnerBoundsOneCallersShare) {
  options_.max_ports_per_owner = 6;
  Restart();
  LeaseRecord first = MustAcquire(Counted(4));
  absl::StatusOr<LeaseRecord> refused = manager_->Acquire(Counted(3));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("caller uid:1000 holds 4 ports in live leases and "
                        "asks for 3; one caller may hold at most 6 "
                        "ports on this server"));
  // Not queued either: waiting would not lower the caller's share.
  absl::StatusOr<LeaseRecord> waited = absl::UnknownError("not called");
  manager_->AcquireOrWait(Counted(3), clock_.Monotonic() + absl::Seconds(5),
                          [&](absl::StatusOr<LeaseRecord> r) { waited = r; });
  EXPECT_EQ(waited.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(manager_->Stats().waiters, 0u);
  // Up to the limit is fine, and another caller has a share of its own.
  MustAcquire(Counted(2));
  MustAcquire(Counted(6, kBob));
  // Released ports come back to the caller's share.
  ASSERT_TRUE(manager_->Release(first.id, kAlice).ok());
  MustAcquire(Counted(3));
}

TEST_F(LeaseManagerLimitsTest, PortsPerOwnerCountsAcrossARestart) {
  options_.max_ports_per_owner = 5;
  Restart();
  MustAcquire(Counted(4));
  Restart();  // the share is rebuilt from the store
  EXPECT_EQ(manager_->Acquire(Counted(2)).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(LeaseManagerLimitsTest, ARetryIsNotCountedAgainstThePortShare) {
  options_.max_ports_per_owner = 4;
  Restart();
  AcquireParams p = Counted(4);
  p.request_id = "job-1";
  LeaseRecord lease = MustAcquire(p);
  EXPECT_EQ(MustAcquire(p).id, lease.id);  // the same lease, not refused
}

}  // namespace
}  // namespace portlease
