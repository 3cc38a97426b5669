// LeaseManager: a restart reloads the store; bad stored state and options.
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

TEST_F(LeaseManagerTest, RestartKeepsLiveLeasesWithTheirPorts) {
  LeaseRecord a = MustAcquire(Named({"redis", "worker"}));
  AcquireParams pb = Counted(3);
  pb.request_id = "r1";
  pb.ttl = absl::Seconds(10);
  LeaseRecord b = MustAcquire(pb);
  LeaseRecord c = MustAcquire(Counted(1));
  ASSERT_TRUE(manager_->Release(c.id, kAlice).ok());
  clock_.Advance(absl::Seconds(5));
  Restart();
  auto got_a = manager_->Get(a.id, kAlice);
  ASSERT_TRUE(got_a.ok());
  EXPECT_EQ(*got_a, a);
  EXPECT_EQ(manager_->Get(b.id, kAlice)->base, b.base);
  EXPECT_EQ(manager_->Acquire(pb)->id, b.id);  // request_id survives
  EXPECT_EQ(manager_->Get(c.id, kAlice).status().code(), absl::StatusCode::kNotFound);
  // New grants never overlap the restored ones.
  for (int i = 0; i < 3; ++i) {
    auto l = manager_->Acquire(Counted(2));
    if (!l.ok()) break;
    EXPECT_TRUE(l->last() < a.base || l->base > b.last() ||
                (l->base > a.last() && l->last() < b.base));
  }
  // b's remaining 5 s still count after the restart.
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(manager_->Get(b.id, kAlice).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LeaseManagerTest, LeasesThatExpiredWhileDownAreFreedOnceProbedFree) {
  LeaseRecord a = MustAcquire(Counted(2));
  prober_.SetBusy(a.base, true);
  clock_.Advance(absl::Minutes(5));
  Restart();
  EXPECT_EQ(manager_->Get(a.id, kAlice).status().code(), absl::StatusCode::kNotFound);
  manager_->Tick();
  EXPECT_EQ(manager_->ViewPort(a.base).state, PortView::State::kDraining);
  prober_.SetBusy(a.base, false);
  clock_.Advance(options_.drain_probe_interval);
  manager_->Tick();
  EXPECT_TRUE(store_.leases.empty());
}

TEST_F(LeaseManagerTest, OverlappingStoredLeasesAreDataLoss) {
  LeaseRecord a = MustAcquire(Counted(2));
  LeaseRecord clone = a;
  clone.id = std::string(32, 'f');
  store_.leases[clone.id] = clone;
  manager_.reset();
  auto m = LeaseManager::Create(options_, &clock_, &store_, &prober_);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(LeaseManagerTest, BadOptionsAreRejected) {
  LeaseManagerOptions o = options_;
  o.default_ttl = absl::Hours(48);
  EXPECT_EQ(LeaseManager::Create(o, &clock_, &store_, &prober_).status().code(),
            absl::StatusCode::kInvalidArgument);
  o = options_;
  o.pool.clear();
  EXPECT_EQ(LeaseManager::Create(o, &clock_, &store_, &prober_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace portlease
