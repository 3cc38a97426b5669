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
#include "server/core/fake_clock.h"
#include "server/core/fake_prober.h"
#include "server/core/fake_store.h"
#include "server/core/test_callers.h"

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

class LeaseManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.pool = {{20000, 20019}};
    options_.cooldown = absl::Seconds(30);
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
  static AcquireParams Named(std::vector<std::string> names) {
    AcquireParams p;
    p.names = std::move(names);
    p.caller = kAlice;
    return p;
  }
  static AcquireParams Counted(uint32_t count) {
    AcquireParams p;
    p.count = count;
    p.caller = kAlice;
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

TEST_F(LeaseManagerTest, M2DefaultAndExcludedPortsAreNeverGranted) {
  options_.pool = {{6370, 6389}};
  options_.exclude = {6370};
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

TEST_F(LeaseManagerTest, WaitersAreServedFifoWhenPortsFree) {
  options_.cooldown = absl::ZeroDuration();
  Restart();
  LeaseRecord all = MustAcquire(Counted(20));
  std::vector<std::string> order;
  std::vector<absl::StatusOr<LeaseRecord>> results(3);
  const absl::Duration deadline = clock_.Monotonic() + absl::Seconds(10);
  for (int i = 0; i < 3; ++i) {
    uint64_t ticket = manager_->AcquireOrWait(
        Counted(i == 0 ? 15 : 5), deadline,
        [&, i](absl::StatusOr<LeaseRecord> r) {
          order.push_back(absl::StrCat(i));
          results[i] = std::move(r);
        });
    EXPECT_NE(ticket, 0u);
  }
  EXPECT_EQ(manager_->Stats().waiters, 3u);
  ASSERT_TRUE(manager_->Release(all.id, kAlice).ok());
  // The head (15) and the next (5) fit; the third waits.
  EXPECT_THAT(order, ElementsAre("0", "1"));
  ASSERT_TRUE(results[0].ok());
  ASSERT_TRUE(results[1].ok());
  ASSERT_TRUE(manager_->Release(results[0]->id, kAlice).ok());
  EXPECT_THAT(order, ElementsAre("0", "1", "2"));
  EXPECT_TRUE(results[2].ok());
}

TEST_F(LeaseManagerTest, LaterWaitersDoNotOvertakeTheHead) {
  options_.cooldown = absl::ZeroDuration();
  Restart();
  LeaseRecord a = MustAcquire(Counted(10));
  LeaseRecord b = MustAcquire(Counted(10));
  std::vector<int> served;
  const absl::Duration deadline = clock_.Monotonic() + absl::Seconds(10);
  manager_->AcquireOrWait(Counted(20), deadline,
                          [&](absl::StatusOr<LeaseRecord> r) { served.push_back(20); });
  manager_->AcquireOrWait(Counted(1), deadline,
                          [&](absl::StatusOr<LeaseRecord> r) { served.push_back(1); });
  ASSERT_TRUE(manager_->Release(a.id, kAlice).ok());
  EXPECT_TRUE(served.empty());  // 1 port would fit, but the head waits first
  ASSERT_TRUE(manager_->Release(b.id, kAlice).ok());
  EXPECT_THAT(served, ElementsAre(20));
  manager_.reset();  // completes the last waiter while `served` lives
  EXPECT_THAT(served, ElementsAre(20, 1));
}

TEST_F(LeaseManagerTest, WaitTimesOutAndCanBeCancelled) {
  MustAcquire(Counted(20));
  std::optional<absl::Status> timed_out, cancelled;
  manager_->AcquireOrWait(Counted(1), clock_.Monotonic() + absl::Seconds(2),
                          [&](absl::StatusOr<LeaseRecord> r) { timed_out = r.status(); });
  uint64_t ticket = manager_->AcquireOrWait(
      Counted(1), clock_.Monotonic() + absl::Seconds(60),
      [&](absl::StatusOr<LeaseRecord> r) { cancelled = r.status(); });
  clock_.Advance(absl::Seconds(2));
  manager_->Tick();
  ASSERT_TRUE(timed_out.has_value());
  EXPECT_EQ(timed_out->code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(cancelled.has_value());
  manager_->CancelWait(ticket);
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(cancelled->code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(manager_->Stats().waiters, 0u);
}

TEST_F(LeaseManagerTest, WaitOnAServablePoolCompletesAtOnce) {
  std::optional<absl::StatusOr<LeaseRecord>> got;
  uint64_t ticket = manager_->AcquireOrWait(
      Named({"a"}), clock_.Monotonic() + absl::Seconds(1),
      [&](absl::StatusOr<LeaseRecord> r) { got = std::move(r); });
  EXPECT_EQ(ticket, 0u);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->ok());
  std::optional<absl::Status> invalid;
  manager_->AcquireOrWait(Named({"A"}), clock_.Monotonic() + absl::Seconds(1),
                          [&](absl::StatusOr<LeaseRecord> r) { invalid = r.status(); });
  EXPECT_EQ(invalid->code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(LeaseManagerTest, TooManyWaitersAreRefused) {
  options_.max_waiters = 2;
  Restart();
  MustAcquire(Counted(20));
  std::vector<absl::StatusCode> codes;
  for (int i = 0; i < 3; ++i) {
    manager_->AcquireOrWait(Counted(1), clock_.Monotonic() + absl::Seconds(5),
                            [&](absl::StatusOr<LeaseRecord> r) {
                              codes.push_back(r.status().code());
                            });
  }
  EXPECT_THAT(codes, ElementsAre(absl::StatusCode::kResourceExhausted));
  manager_.reset();  // completes the queued waiters while `codes` lives
  EXPECT_THAT(codes, SizeIs(3));
}

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
