// LeaseManager after lost state: the recovery window grants nothing,
// holders re-attach their leases (Reattach), and after any restart a held
// lease gets one hold grace to be held again.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
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

class LeaseRecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.pool = {{20000, 20019}};
    options_.cooldown = absl::ZeroDuration();
    options_.hold_grace = absl::Seconds(2);
    options_.on_event = [this](const LeaseEvent& e) { events_.push_back(e); };
    Restart();
  }
  void Restart() {
    manager_.reset();
    auto m = LeaseManager::Create(options_, &clock_, &store_, &prober_);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  static AcquireParams Request(const Principal& caller, uint32_t count = 2) {
    AcquireParams p;
    p.count = count;
    p.caller = caller;
    p.ttl = absl::Seconds(60);
    return p;
  }
  LeaseRecord MustAcquire(const AcquireParams& p) {
    auto lease = manager_->Acquire(p);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? *lease : LeaseRecord{};
  }
  // The server loses its database: restarted on an empty store, in a
  // recovery window.
  void LoseStateAndRecover(absl::Duration window = absl::Seconds(4)) {
    store_.leases.clear();
    Restart();
    manager_->StartRecovery(window, "found 0 leases, 2 were recorded");
  }
  int Count(LeaseEvent::Type type) const {
    int n = 0;
    for (const LeaseEvent& e : events_) n += e.type == type;
    return n;
  }

  LeaseManagerOptions options_;
  FakeClock clock_;
  MapStore store_;
  FakeProber prober_;
  std::vector<LeaseEvent> events_;
  std::unique_ptr<LeaseManager> manager_;
};

TEST_F(LeaseRecoveryTest, WindowGrantsNothingAndSaysWhenToRetry) {
  LeaseRecord a = MustAcquire(Request(kAlice));
  LoseStateAndRecover();
  EXPECT_TRUE(manager_->Recovering());
  absl::StatusOr<LeaseRecord> refused = manager_->Acquire(Request(kBob));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("recovering lost state (found 0 leases, 2 were "
                        "recorded)"));
  EXPECT_THAT(refused.status().message(), HasSubstr("retry in 4s"));
  // Waiting does not queue past the window either: answered at once.
  absl::StatusOr<LeaseRecord> waited;
  manager_->AcquireOrWait(Request(kBob), clock_.Monotonic() + absl::Minutes(1),
                          [&](absl::StatusOr<LeaseRecord> r) { waited = r; });
  EXPECT_EQ(waited.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Count(LeaseEvent::Type::kRecovering), 1);

  clock_.Advance(absl::Seconds(4));
  manager_->Tick();
  EXPECT_FALSE(manager_->Recovering());
  EXPECT_EQ(Count(LeaseEvent::Type::kRecovered), 1);
  // Nobody re-attached: the lost lease's ports are granted again.
  LeaseRecord b = MustAcquire(Request(kBob));
  EXPECT_EQ(b.base, a.base);
}

TEST_F(LeaseRecoveryTest, HolderReattachesItsLeaseAsItsCaller) {
  LeaseRecord a = MustAcquire(Request(kAlice));
  a.owner = {{"CI_JOB_ID", "7"}};
  LoseStateAndRecover();
  clock_.Advance(absl::Seconds(1));
  absl::StatusOr<LeaseRecord> back = manager_->Reattach(a, kAlice);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, a.id);
  EXPECT_EQ(back->base, a.base);
  EXPECT_EQ(back->caller, "uid:1000");
  EXPECT_EQ(back->owner, a.owner);
  EXPECT_EQ(back->expires_at, clock_.Now() + absl::Seconds(60));
  EXPECT_EQ(store_.leases.at(a.id).caller, "uid:1000");
  EXPECT_EQ(Count(LeaseEvent::Type::kReattached), 1);
  // Its own: renewed and held by Alice, not by Bob.
  EXPECT_TRUE(manager_->Renew(a.id, absl::ZeroDuration(), kAlice).ok());
  EXPECT_EQ(manager_->Renew(a.id, absl::ZeroDuration(), kBob).status().code(),
            absl::StatusCode::kPermissionDenied);
  // A second re-attach (a Hold after a Renew) answers the same lease.
  EXPECT_EQ(manager_->Reattach(a, kAlice)->id, a.id);
  // After the window, its ports are still not granted to anyone else.
  clock_.Advance(absl::Seconds(4));
  manager_->Tick();
  LeaseRecord b = MustAcquire(Request(kBob));
  EXPECT_GT(b.base, a.last());
}

TEST_F(LeaseRecoveryTest, TwoSnapshotsOfOnePortReattachOnlyTheFirst) {
  LeaseRecord a = MustAcquire(Request(kAlice));
  LoseStateAndRecover();
  ASSERT_TRUE(manager_->Reattach(a, kAlice).ok());
  // Another (forged or stale) snapshot overlapping the same ports.
  LeaseRecord other = a;
  other.id = std::string(32, 'b');
  other.base = static_cast<Port>(a.base + 1);
  absl::StatusOr<LeaseRecord> refused = manager_->Reattach(other, kBob);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(refused.status().message(),
              HasSubstr(absl::StrCat("port ", a.base + 1,
                                     " is held by another lease")));
  EXPECT_FALSE(store_.leases.contains(other.id));
}

TEST_F(LeaseRecoveryTest, PortBoundByTheHoldersJobIsAccepted) {
  LeaseRecord a = MustAcquire(Request(kAlice));
  LoseStateAndRecover();
  // The job's server listens on its port: a probe finds it busy.
  prober_.SetBusy(a.base, true);
  ASSERT_TRUE(manager_->Reattach(a, kAlice).ok());
  EXPECT_EQ(manager_->ViewPort(a.base).state, PortView::State::kLeased);
}

TEST_F(LeaseRecoveryTest, NoReattachOutsideTheWindow) {
  LeaseRecord a = MustAcquire(Request(kAlice));
  LoseStateAndRecover();
  clock_.Advance(absl::Seconds(4));
  absl::StatusOr<LeaseRecord> late = manager_->Reattach(a, kAlice);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(late.status().message(), HasSubstr("recovery window"));
  EXPECT_TRUE(store_.leases.empty());
  // A server that lost nothing never re-creates leases it does not know.
  Restart();
  EXPECT_EQ(manager_->Reattach(a, kAlice).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(LeaseRecoveryTest, MalformedSnapshotsAreRefused) {
  LeaseRecord a = MustAcquire(Request(kAlice));
  LoseStateAndRecover();
  LeaseRecord bad = a;
  bad.id = "short";
  EXPECT_EQ(manager_->Reattach(bad, kAlice).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = a;
  bad.base = 30000;  // outside the pool
  EXPECT_THAT(manager_->Reattach(bad, kAlice).status().message(),
              HasSubstr("outside this server's pool"));
  bad = a;
  bad.names = {"only-one"};  // two ports, one name
  EXPECT_THAT(manager_->Reattach(bad, kAlice).status().message(),
              HasSubstr("malformed"));
  EXPECT_TRUE(store_.leases.empty());
}

TEST_F(LeaseRecoveryTest, ReattachedTtlIsWithinTodaysLimits) {
  LeaseRecord a = MustAcquire(Request(kAlice));
  a.ttl = absl::Hours(100);
  LoseStateAndRecover();
  absl::StatusOr<LeaseRecord> back = manager_->Reattach(a, kAlice);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ttl, options_.max_ttl);
}

TEST_F(LeaseRecoveryTest, HeldLeaseGetsOneGraceAfterARestart) {
  LeaseRecord held = MustAcquire(Request(kAlice));
  LeaseRecord renewed = MustAcquire(Request(kBob));
  ASSERT_TRUE(manager_->AttachHolder(held.id, kAlice).ok());
  EXPECT_TRUE(store_.leases.at(held.id).held);
  EXPECT_FALSE(store_.leases.at(renewed.id).held);
  // The server dies with the stream open; nothing detached it.
  Restart();
  clock_.Advance(absl::Seconds(1));
  manager_->Tick();
  EXPECT_TRUE(manager_->Get(held.id, kAlice).ok());
  clock_.Advance(absl::Seconds(1));
  manager_->Tick();
  // Its holder did not come back: reclaimed, one grace after the restart.
  EXPECT_EQ(manager_->Get(held.id, kAlice).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Count(LeaseEvent::Type::kHolderLost), 1);
  // A lease never held keeps its TTL.
  EXPECT_TRUE(manager_->Get(renewed.id, kBob).ok());
}

TEST_F(LeaseRecoveryTest, HeldLeaseWhoseHolderReattachesWithinTheGraceStays) {
  LeaseRecord held = MustAcquire(Request(kAlice));
  ASSERT_TRUE(manager_->AttachHolder(held.id, kAlice).ok());
  Restart();
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(manager_->AttachHolder(held.id, kAlice).ok());
  clock_.Advance(absl::Seconds(10));
  manager_->Tick();
  EXPECT_TRUE(manager_->Get(held.id, kAlice).ok());
  EXPECT_EQ(Count(LeaseEvent::Type::kHolderLost), 0);
}

// AcquireParams::hold (ScopedLease, lease-run): stored held with the grant,
// reclaimed when no Hold stream attaches within the attach window.
TEST_F(LeaseRecoveryTest, ALeaseGrantedHeldIsReclaimedWhenNoHolderAttaches) {
  AcquireParams p = Request(kAlice);
  p.hold = true;
  const LeaseRecord lease = MustAcquire(p);
  EXPECT_TRUE(lease.held);
  EXPECT_TRUE(store_.leases.at(lease.id).held);  // in the grant's commit
  clock_.Advance(options_.hold_attach_window - absl::Seconds(1));
  manager_->Tick();
  EXPECT_TRUE(manager_->Get(lease.id, kAlice).ok());
  clock_.Advance(absl::Seconds(2));
  manager_->Tick();
  EXPECT_EQ(manager_->Get(lease.id, kAlice).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Count(LeaseEvent::Type::kHolderLost), 1);
}

TEST_F(LeaseRecoveryTest, ALeaseGrantedHeldLivesOnOnceItsHolderAttaches) {
  AcquireParams p = Request(kAlice);
  p.hold = true;
  const LeaseRecord lease = MustAcquire(p);
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(manager_->AttachHolder(lease.id, kAlice).ok());
  clock_.Advance(options_.hold_attach_window * 2);
  manager_->Tick();
  EXPECT_TRUE(manager_->Get(lease.id, kAlice).ok());
  // Its stream ends: one hold grace, as for any held lease.
  manager_->DetachHolder(lease.id);
  clock_.Advance(options_.hold_grace + absl::Seconds(1));
  manager_->Tick();
  EXPECT_EQ(manager_->Get(lease.id, kAlice).status().code(),
            absl::StatusCode::kNotFound);
  // Not asked for: a lease without a holder keeps its TTL.
  const LeaseRecord plain = MustAcquire(Request(kBob));
  EXPECT_FALSE(plain.held);
  clock_.Advance(options_.hold_attach_window * 2);
  manager_->Tick();
  EXPECT_TRUE(manager_->Get(plain.id, kBob).ok());
}

}  // namespace
}  // namespace portlease
