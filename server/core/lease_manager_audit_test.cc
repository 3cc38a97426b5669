// LeaseManager's audit trail: every acknowledged change reaches the store
// with its event, in the same call, naming who made it; a change the store
// refuses leaves no event.
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
#include "server/core/principal.h"
#include "server/core/test_callers.h"

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class LeaseAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.pool = {{20000, 20019}};
    options_.cooldown = absl::ZeroDuration();
    options_.max_leases_per_owner = 0;
    auto m = LeaseManager::Create(options_, &clock_, &store_, &prober_);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  LeaseRecord MustAcquire(const Principal& caller) {
    AcquireParams p;
    p.count = 2;
    p.caller = caller;
    p.owner = {{"job", "42"}};
    auto lease = manager_->Acquire(p);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? *lease : LeaseRecord{};
  }
  // "type lease by privilege" of each event the store recorded.
  std::vector<std::string> Trail() const {
    std::vector<std::string> out;
    for (const AuditEvent& e : store_.events) {
      out.push_back(e.type + " " + (e.lease.empty() ? "-" : e.lease) + " " +
                    e.by + (e.privilege.empty() ? "" : " " + e.privilege));
    }
    return out;
  }

  LeaseManagerOptions options_;
  FakeClock clock_;
  MapStore store_;
  FakeProber prober_;
  std::unique_ptr<LeaseManager> manager_;
};

TEST_F(LeaseAuditTest, EveryChangeIsRecordedWithItsCommitNamingWhoMadeIt) {
  const LeaseRecord a = MustAcquire(kAlice);
  const LeaseRecord b = MustAcquire(kAlice);
  const LeaseRecord c = MustAcquire(kBob);
  ASSERT_TRUE(manager_->Renew(a.id, absl::ZeroDuration(), kAlice).ok());
  ASSERT_TRUE(manager_->Release(a.id, kAlice).ok());
  const Principal admin{"uid:0", "admin-token"};
  ASSERT_TRUE(manager_->ForceRelease(b.IdPrefix(), 0, admin).ok());
  ASSERT_TRUE(manager_->AttachHolder(c.id, kBob).ok());
  manager_->DetachHolder(c.id);
  ASSERT_TRUE(manager_->DrainPort(20019, admin).ok());
  ASSERT_TRUE(manager_->UndrainPort(20019, admin).ok());
  clock_.Advance(options_.hold_grace);
  manager_->Tick();
  const LeaseRecord d = MustAcquire(kAlice);
  clock_.Advance(options_.default_ttl);
  manager_->Tick();

  const std::string pa = a.IdPrefix(), pb = b.IdPrefix(), pc = c.IdPrefix(),
                    pd = d.IdPrefix();
  EXPECT_THAT(Trail(),
              ElementsAre("grant " + pa + " uid:1000", "grant " + pb + " uid:1000",
                          "grant " + pc + " uid:1001", "renew " + pa + " uid:1000",
                          "release " + pa + " uid:1000",
                          "force-release " + pb + " uid:0 admin-token",
                          "port-drain - uid:0", "port-undrain - uid:0",
                          "reclaim " + pc + " server", "grant " + pd + " uid:1000",
                          "expire " + pd + " server"));
  // The trail carries the lease's ports and owner, never its secret id.
  const AuditEvent& grant = store_.events.front();
  EXPECT_EQ(grant.base, a.base);
  EXPECT_EQ(grant.count, 2u);
  EXPECT_EQ(grant.owner, a.owner);
  EXPECT_EQ(grant.at, a.created_at);
  for (const AuditEvent& e : store_.events) {
    EXPECT_EQ(e.lease.find(a.id), std::string::npos);
    EXPECT_LE(e.lease.size(), 8u);
  }
  EXPECT_EQ(store_.events[6].port, 20019);

  // Events reads the store's trail.
  EventQuery query;
  query.after_seq = 9;
  absl::StatusOr<std::vector<AuditEvent>> tail = manager_->Events(query);
  ASSERT_TRUE(tail.ok()) << tail.status();
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ((*tail)[0].type, "grant");
  EXPECT_EQ((*tail)[1].type, "expire");
}

TEST_F(LeaseAuditTest, AChangeTheStoreRefusesLeavesNoEvent) {
  const LeaseRecord a = MustAcquire(kAlice);
  store_.fail = absl::UnavailableError("disk full");
  AcquireParams p;
  p.count = 1;
  p.caller = kBob;
  EXPECT_FALSE(manager_->Acquire(p).ok());
  EXPECT_FALSE(manager_->Renew(a.id, absl::ZeroDuration(), kAlice).ok());
  EXPECT_FALSE(manager_->Release(a.id, kAlice).ok());
  EXPECT_FALSE(manager_->DrainPort(20019, kRoot).ok());
  EXPECT_EQ(store_.events.size(), 1u);  // a's grant only
  store_.fail = absl::OkStatus();
  ASSERT_TRUE(manager_->Release(a.id, kAlice).ok());
  ASSERT_EQ(store_.events.size(), 2u);
  EXPECT_EQ(store_.events.back().type, "release");
}

TEST_F(LeaseAuditTest, AStoreWithoutATrailSaysSo) {
  class NoTrail : public MapStore {
   public:
    absl::StatusOr<std::vector<AuditEvent>> LoadEvents(
        const EventQuery& query) override {
      (void)query;
      return absl::UnimplementedError("this store keeps no audit trail");
    }
  } plain;
  auto m = LeaseManager::Create(options_, &clock_, &plain, &prober_);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->Events({}).status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(store_.events, IsEmpty());
}

}  // namespace
}  // namespace portlease
