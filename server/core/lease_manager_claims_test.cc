// Two LeaseManagers on one host (one FakeClaimsTable): what one grants the
// other never grants, a crashed server's claims vanish, and a lease whose
// ports another server claimed while its server was down ends at restart.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/fake_claims.h"
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

// One server: its store, prober, claims and manager; events as "name detail".
struct TestServer {
  TestServer(FakeClaimsTable* table, int32_t pid, FakeClock* clock)
      : claims(table, pid), clock(clock) {
    options.pool = {{20000, 20009}};
    options.cooldown = absl::Seconds(30);
    options.busy_backoff = absl::Seconds(10);
    options.claims = &claims;
    options.on_event = [this](const LeaseEvent& e) {
      events.push_back(absl::StrCat(LeaseEventName(e.type), " ", e.detail));
    };
  }
  void Start() {
    manager.reset();
    auto m = LeaseManager::Create(options, clock, &store, &prober);
    ASSERT_TRUE(m.ok()) << m.status();
    manager = std::move(*m);
  }
  std::set<Port> Ports(const LeaseRecord& r) {
    std::set<Port> out;
    for (uint32_t p = r.base; p <= r.last(); ++p) out.insert(static_cast<Port>(p));
    return out;
  }

  FakeClaims claims;
  FakeClock* clock;
  LeaseManagerOptions options;
  MapStore store;
  FakeProber prober;
  std::vector<std::string> events;
  std::unique_ptr<LeaseManager> manager;
};

AcquireParams Counted(uint32_t count) {
  AcquireParams p;
  p.count = count;
  p.caller = kAlice;
  return p;
}

class ClaimsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_.Start();
    b_.Start();
  }
  FakeClaimsTable table_;
  FakeClock clock_;
  TestServer a_{&table_, 100, &clock_};
  TestServer b_{&table_, 200, &clock_};
};

TEST_F(ClaimsTest, TwoServersNeverGrantTheSamePort) {
  auto first = a_.manager->Acquire(Counted(3));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->base, 20000);
  EXPECT_EQ(a_.claims.Claimed(), a_.Ports(*first));
  // B's allocator also starts at 20000, finds it claimed, moves on.
  auto second = b_.manager->Acquire(Counted(3));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_GE(second->base, 20003);
  EXPECT_THAT(b_.events,
              Contains(HasSubstr("foreign-busy claimed by portleased pid 100")));
  // The rest of the pool: 4 ports, not 3+3.
  EXPECT_TRUE(b_.manager->Acquire(Counted(4)).ok());
  auto none = b_.manager->Acquire(Counted(1));
  EXPECT_TRUE(absl::IsResourceExhausted(none.status())) << none.status();
  EXPECT_THAT(std::string(none.status().message()),
              HasSubstr("claimed by other servers"));
}

TEST_F(ClaimsTest, WhoNamesTheOtherServer) {
  auto lease = a_.manager->Acquire(Counted(1));
  ASSERT_TRUE(lease.ok());
  PortView seen_by_b = b_.manager->ViewPort(lease->base);
  ASSERT_TRUE(seen_by_b.claimed_by.has_value());
  EXPECT_EQ(seen_by_b.claimed_by->pid, 100);
  EXPECT_FALSE(a_.manager->ViewPort(lease->base).claimed_by.has_value());
}

TEST_F(ClaimsTest, ClaimLastsThroughTheCooldownAndEndsWhenThePortIsFree) {
  auto lease = a_.manager->Acquire(Counted(2));
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(a_.manager->Release(lease->id, kAlice).ok());
  a_.manager->Tick();
  EXPECT_EQ(a_.claims.Claimed(), a_.Ports(*lease));  // cooling down
  clock_.Advance(absl::Seconds(31));
  a_.manager->Tick();
  EXPECT_THAT(a_.claims.Claimed(), IsEmpty());
}

TEST_F(ClaimsTest, DrainingPortsStayClaimed) {
  auto lease = a_.manager->Acquire(Counted(1));
  ASSERT_TRUE(lease.ok());
  a_.prober.SetBusy(lease->base, true);  // a leaked listener
  ASSERT_TRUE(a_.manager->Release(lease->id, kAlice).ok());
  a_.manager->Tick();
  clock_.Advance(absl::Seconds(60));
  a_.manager->Tick();
  EXPECT_EQ(a_.manager->ViewPort(lease->base).state, PortView::State::kDraining);
  EXPECT_EQ(a_.claims.Claimed(), a_.Ports(*lease));
  a_.prober.SetBusy(lease->base, false);
  clock_.Advance(absl::Seconds(2));
  a_.manager->Tick();
  clock_.Advance(absl::Seconds(31));
  a_.manager->Tick();
  EXPECT_THAT(a_.claims.Claimed(), IsEmpty());
}

TEST_F(ClaimsTest, AFailedGrantGivesItsClaimBack) {
  a_.prober.SetBusy(20001, true);
  auto lease = a_.manager->Acquire(Counted(3));
  ASSERT_TRUE(lease.ok());
  EXPECT_GE(lease->base, 20002);
  EXPECT_EQ(a_.claims.Claimed(), a_.Ports(*lease));  // not 20000-20002

  a_.store.fail = absl::InternalError("disk full");
  EXPECT_FALSE(a_.manager->Acquire(Counted(2)).ok());
  EXPECT_EQ(a_.claims.Claimed(), a_.Ports(*lease));
}

TEST_F(ClaimsTest, ACrashedServersPortsAreGrantedByTheOtherAfterTheBackoff) {
  a_.options.pool = b_.options.pool = {{20000, 20002}};
  a_.Start();
  b_.Start();
  ASSERT_TRUE(a_.manager->Acquire(Counted(3)).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(
      b_.manager->Acquire(Counted(3)).status()));
  a_.claims.Crash();  // kill -9: the kernel drops its locks
  a_.manager.reset();
  clock_.Advance(absl::Seconds(11));  // B's busy back-off
  auto lease = b_.manager->Acquire(Counted(3));
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->base, 20000);
}

TEST_F(ClaimsTest, ALeaseClaimedByAnotherServerWhileDownEndsAtRestart) {
  a_.options.pool = b_.options.pool = {{20000, 20002}};
  a_.Start();
  b_.Start();
  auto lost = a_.manager->Acquire(Counted(2));
  ASSERT_TRUE(lost.ok());
  a_.claims.Crash();
  a_.manager.reset();
  clock_.Advance(absl::Seconds(11));
  auto taken = b_.manager->Acquire(Counted(3));
  ASSERT_TRUE(taken.ok()) << taken.status();

  a_.events.clear();
  a_.Start();
  EXPECT_THAT(a_.events, Contains(HasSubstr("claim-lost port 20000 was "
                                            "claimed by portleased pid 200")));
  EXPECT_TRUE(a_.store.leases.empty());
  EXPECT_THAT(a_.claims.Claimed(), IsEmpty());
  auto renewed = a_.manager->Renew(lost->id, absl::ZeroDuration(), kAlice);
  EXPECT_TRUE(absl::IsNotFound(renewed.status()));
  EXPECT_THAT(std::string(renewed.status().message()),
              HasSubstr("claimed by portleased pid 200 (user user200) while "
                        "this server was down"));
  EXPECT_EQ(a_.manager->ViewPort(20000).state, PortView::State::kBusy);
}

TEST_F(ClaimsTest, StoredLeasesAreClaimedAgainAtRestart) {
  auto lease = a_.manager->Acquire(Counted(2));
  ASSERT_TRUE(lease.ok());
  a_.claims.Crash();
  a_.manager.reset();
  a_.Start();
  EXPECT_EQ(a_.claims.Claimed(), a_.Ports(*lease));
  EXPECT_TRUE(a_.manager->Renew(lease->id, absl::ZeroDuration(), kAlice).ok());
}

}  // namespace
}  // namespace portlease
