// LeaseManager: busy and bound ports, draining leases, released ports.
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

TEST_F(LeaseManagerTest, BusyPortsAreSkippedAndBackedOff) {
  prober_.SetBusy(20001, true);
  LeaseRecord l = MustAcquire(Counted(3));
  EXPECT_EQ(l.base, 20002);  // 20000-20002 probed: 20001 busy, skipped
  EXPECT_EQ(manager_->Stats().busy, 1u);
  EXPECT_EQ(manager_->ViewPort(20001).state, PortView::State::kBusy);
  EXPECT_THAT(events_, ElementsAre("foreign-busy", "grant"));
  prober_.SetBusy(20001, false);
  clock_.Advance(options_.busy_backoff);
  manager_->Tick();
  EXPECT_EQ(manager_->ViewPort(20001).state, PortView::State::kFree);
}

TEST_F(LeaseManagerTest, PoolFullOfForeignListenersAnswersExhaustedQuickly) {
  for (Port p = 20000; p < 20020; ++p) prober_.SetBusy(p, true);
  auto r = manager_->Acquire(Counted(1));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("bound by other processes"));
  EXPECT_LE(prober_.calls(), static_cast<int>(options_.max_probes_per_request));
}

TEST_F(LeaseManagerTest, EndedLeaseWithBoundPortsDrainsUntilFree) {
  LeaseRecord l = MustAcquire(Counted(2));
  prober_.SetBusy(l.base + 1, true);  // a leaked child still listens
  const int probes = prober_.calls();
  ASSERT_TRUE(manager_->Release(l.id, kAlice).ok());
  // The release answers before its ports are probed; they cool down.
  EXPECT_EQ(prober_.calls(), probes);
  EXPECT_FALSE(store_.leases.contains(l.id));
  EXPECT_EQ(manager_->ViewPort(l.base).state, PortView::State::kQuarantined);
  EXPECT_EQ(manager_->NextTickDue(), clock_.Monotonic());
  manager_->Tick();
  EXPECT_THAT(events_, ElementsAre("grant", "release", "draining"));
  EXPECT_EQ(manager_->Get(l.id, kAlice).status().code(), absl::StatusCode::kNotFound);
  auto listed = manager_->List({});
  ASSERT_THAT(listed, SizeIs(1));
  EXPECT_EQ(listed[0].state, LeaseState::kDraining);
  EXPECT_EQ(store_.leases.at(l.id).state, LeaseState::kDraining);
  EXPECT_EQ(manager_->ViewPort(l.base).state, PortView::State::kDraining);
  EXPECT_EQ(manager_->ViewPort(l.base).lease->id, l.id);
  clock_.Advance(absl::Minutes(5));
  manager_->Tick();
  EXPECT_EQ(manager_->Stats().draining, 2u);
  prober_.SetBusy(l.base + 1, false);
  clock_.Advance(options_.drain_probe_interval);
  manager_->Tick();
  EXPECT_THAT(manager_->List({}), SizeIs(0));
  EXPECT_TRUE(store_.leases.empty());
  EXPECT_EQ(manager_->Stats().quarantined, 2u);
}

// Closed connections left behind (Busy, not Held: TIME_WAIT) neither keep a
// released or expired lease draining nor let its ports be granted early.
TEST_F(LeaseManagerTest, RemnantsEndTheLeaseButAreNotGranted) {
  options_.cooldown = absl::ZeroDuration();
  Restart();
  LeaseRecord released = MustAcquire(Counted(2));
  LeaseRecord expiring = MustAcquire(Counted(2));
  AcquireParams rest = Counted(16);  // the rest of the 20-port pool
  rest.ttl = options_.default_ttl * 2;
  ASSERT_TRUE(manager_->Acquire(rest).ok());
  prober_.SetRemnant(released.base);
  prober_.SetRemnant(expiring.base + 1);
  ASSERT_TRUE(manager_->Release(released.id, kAlice).ok());
  manager_->Tick();
  clock_.Advance(options_.default_ttl);
  manager_->Tick();
  EXPECT_THAT(events_,
              ElementsAre("grant", "grant", "grant", "release", "expire"));
  EXPECT_THAT(manager_->List({}), SizeIs(1));  // `rest` only
  EXPECT_EQ(store_.leases.size(), 1u);
  EXPECT_EQ(manager_->Stats().draining, 0u);
  // A grant still refuses the remnants' ports: of the 4 free ports only
  // the middle two make a block without one.
  LeaseRecord next = MustAcquire(Counted(2));
  EXPECT_EQ(next.base, released.base + 1);
  for (Port p : {released.base, Port(expiring.base + 1)}) {
    EXPECT_FALSE(p >= next.base && p <= next.last()) << p;
  }
}

TEST_F(LeaseManagerTest, ReleasedPortsFoundFreeJustCoolDown) {
  LeaseRecord l = MustAcquire(Counted(2));
  ASSERT_TRUE(manager_->Release(l.id, kAlice).ok());
  const int probes = prober_.calls();
  manager_->Tick();
  EXPECT_GT(prober_.calls(), probes);
  EXPECT_THAT(manager_->List({}), SizeIs(0));
  EXPECT_TRUE(store_.leases.empty());
  EXPECT_EQ(manager_->Stats().quarantined, 2u);
  EXPECT_THAT(events_, ElementsAre("grant", "release"));
  manager_->Tick();  // checked once
  EXPECT_EQ(manager_->NextTickDue(), clock_.Monotonic() + options_.cooldown);
}

TEST_F(LeaseManagerTest, ReleasedPortsGrantedAgainBeforeTheCheckStayGranted) {
  options_.cooldown = absl::ZeroDuration();
  options_.pool = {{20000, 20001}};
  Restart();
  LeaseRecord first = MustAcquire(Counted(2));
  ASSERT_TRUE(manager_->Release(first.id, kAlice).ok());
  LeaseRecord second = MustAcquire(Counted(2));  // probed free: granted
  ASSERT_EQ(second.base, first.base);
  prober_.SetBusy(first.base, true);  // the new holder listens
  manager_->Tick();
  EXPECT_THAT(manager_->List({}), ElementsAre(Field(&LeaseRecord::id, second.id)));
  EXPECT_EQ(manager_->ViewPort(first.base).state, PortView::State::kLeased);
  EXPECT_EQ(manager_->ViewPort(first.base).lease->id, second.id);
  EXPECT_EQ(store_.leases.size(), 1u);
}

TEST_F(LeaseManagerTest, ReleasedPortsStillBoundStayOutIfTheStoreRefuses) {
  LeaseRecord l = MustAcquire(Counted(2));
  ASSERT_TRUE(manager_->Release(l.id, kAlice).ok());
  prober_.SetBusy(l.base, true);
  store_.fail = absl::UnavailableError("disk full");
  manager_->Tick();
  store_.fail = absl::OkStatus();
  EXPECT_THAT(manager_->List({}), SizeIs(0));
  EXPECT_EQ(manager_->ViewPort(l.base).state, PortView::State::kQuarantined);
  EXPECT_THAT(events_, ElementsAre("grant", "release", "store-error"));
}

TEST_F(LeaseManagerTest, ExhaustedMessageCountsDrainingPorts) {
  options_.pool = {{20000, 20001}};
  Restart();
  LeaseRecord l = MustAcquire(Counted(2));
  prober_.SetBusy(l.base, true);
  ASSERT_TRUE(manager_->Release(l.id, kAlice).ok());
  manager_->Tick();  // probes the released ports
  auto r = manager_->Acquire(Counted(1));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("0 of 2 free (largest free block 0), 0 cooling down, "
                        "2 draining (still bound after their lease ended), "
                        "0 bound by other processes"));
}

}  // namespace
}  // namespace portlease
