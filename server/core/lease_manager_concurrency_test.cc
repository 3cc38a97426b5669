// LeaseManager under concurrent callers: Acquire and Release probe and
// commit without the manager's lock, and still never let the store (or the
// pool) hold a port twice.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/core/fake_clock.h"
#include "server/core/fake_prober.h"
#include "server/core/lease_manager.h"
#include "server/core/test_callers.h"

namespace portlease {
namespace {

// A thread-safe map store that checks, on every commit, that no two stored
// live leases share a port; one Put or Delete can be held at a gate.
class CheckingStore : public LeaseStore {
 public:
  absl::StatusOr<std::vector<LeaseRecord>> LoadAll() override {
    absl::MutexLock lock(&mu_);
    std::vector<LeaseRecord> out;
    for (const auto& [id, r] : leases_) out.push_back(r);
    return out;
  }
  absl::Status Put(const LeaseRecord& lease) override {
    PassGate(/*put=*/true);
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    leases_[lease.id] = lease;
    CheckNoOverlap();
    return absl::OkStatus();
  }
  absl::Status Delete(const std::string& id) override {
    PassGate(/*put=*/false);
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    leases_.erase(id);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<Port>> LoadDrainedPorts() override {
    return std::vector<Port>();
  }
  absl::Status SetPortDrained(Port, bool) override { return absl::OkStatus(); }
  absl::Status PutAudited(const LeaseRecord& lease,
                          const AuditEvent&) override {
    return Put(lease);
  }
  absl::Status DeleteAudited(const std::string& id,
                             const AuditEvent&) override {
    return Delete(id);
  }
  absl::Status RecordEvent(const AuditEvent&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<AuditEvent>> LoadEvents(
      const EventQuery&) override {
    return std::vector<AuditEvent>{};
  }

  // The next Put (or Delete) signals `entered` and waits for `open`.
  void GateNext(bool put, absl::Notification* entered,
                absl::Notification* open) {
    absl::MutexLock lock(&mu_);
    gate_put_ = put;
    entered_ = entered;
    open_ = open;
  }
  void Fail(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(status);
  }
  int overlaps() {
    absl::MutexLock lock(&mu_);
    return overlaps_;
  }
  size_t size() {
    absl::MutexLock lock(&mu_);
    return leases_.size();
  }

 private:
  void PassGate(bool put) {
    absl::Notification* entered = nullptr;
    absl::Notification* open = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (open_ == nullptr || gate_put_ != put) return;
      std::swap(entered, entered_);
      std::swap(open, open_);
    }
    entered->Notify();
    ASSERT_TRUE(open->WaitForNotificationWithTimeout(absl::Seconds(30)));
  }
  void CheckNoOverlap() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::map<Port, int> holders;
    for (const auto& [id, r] : leases_) {
      if (r.state != LeaseState::kLive) continue;
      for (uint32_t p = r.base; p <= r.last(); ++p) {
        if (++holders[static_cast<Port>(p)] > 1) ++overlaps_;
      }
    }
  }

  absl::Mutex mu_;
  std::map<std::string, LeaseRecord> leases_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
  int overlaps_ ABSL_GUARDED_BY(mu_) = 0;
  bool gate_put_ ABSL_GUARDED_BY(mu_) = false;
  absl::Notification* entered_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Notification* open_ ABSL_GUARDED_BY(mu_) = nullptr;
};

class LeaseManagerConcurrencyTest : public ::testing::Test {
 protected:
  void Start(PortRange pool) {
    options_.pool = {pool};
    options_.cooldown = absl::ZeroDuration();
    auto m = LeaseManager::Create(options_, &clock_, &store_, &prober_);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  static AcquireParams Counted(uint32_t count) {
    AcquireParams p;
    p.count = count;
    p.caller = kAlice;
    return p;
  }

  LeaseManagerOptions options_;
  FakeClock clock_;
  CheckingStore store_;
  FakeProber prober_;
  std::unique_ptr<LeaseManager> manager_;
};

TEST_F(LeaseManagerConcurrencyTest, PortsOfAReleaseStayTakenUntilItsDeleteCommits) {
  Start({20000, 20001});
  absl::StatusOr<LeaseRecord> a = manager_->Acquire(Counted(2));
  ASSERT_TRUE(a.ok()) << a.status();
  absl::Notification entered, open;
  store_.GateNext(/*put=*/false, &entered, &open);
  absl::Status released;
  std::thread releaser([&] { released = manager_->Release(a->id, kAlice); });
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // The manager's lock is free while the Delete commits, and the ports are
  // not handed out again yet.
  EXPECT_TRUE(absl::IsResourceExhausted(manager_->Acquire(Counted(1)).status()));
  EXPECT_TRUE(absl::IsNotFound(manager_->Release(a->id, kAlice)));  // being ended
  EXPECT_EQ(manager_->Stats().leased, 2u);
  open.Notify();
  releaser.join();
  EXPECT_TRUE(released.ok()) << released;
  EXPECT_TRUE(manager_->Acquire(Counted(2)).ok());
  EXPECT_EQ(store_.overlaps(), 0);
}

TEST_F(LeaseManagerConcurrencyTest, AFailedReleaseCommitLeavesTheLeaseLive) {
  Start({20000, 20001});
  absl::StatusOr<LeaseRecord> a = manager_->Acquire(Counted(2));
  ASSERT_TRUE(a.ok()) << a.status();
  store_.Fail(absl::UnavailableError("disk full"));
  EXPECT_TRUE(absl::IsUnavailable(manager_->Release(a->id, kAlice)));
  store_.Fail(absl::OkStatus());
  EXPECT_TRUE(manager_->Get(a->id, kAlice).ok());
  // Still in the expiry index: it expires at its TTL.
  clock_.Advance(options_.default_ttl + absl::Seconds(1));
  manager_->Tick();
  EXPECT_TRUE(absl::IsNotFound(manager_->Get(a->id, kAlice).status()));
  EXPECT_EQ(store_.size(), 0u);
}

TEST_F(LeaseManagerConcurrencyTest, AnExpiryTheStoreRefusesIsRetried) {
  Start({20000, 20001});
  absl::StatusOr<LeaseRecord> a = manager_->Acquire(Counted(1));
  ASSERT_TRUE(a.ok()) << a.status();
  clock_.Advance(options_.default_ttl + absl::Seconds(1));
  store_.Fail(absl::UnavailableError("disk full"));
  manager_->Tick();
  EXPECT_EQ(store_.size(), 1u);
  EXPECT_EQ(manager_->Stats().live_leases, 1u);
  store_.Fail(absl::OkStatus());
  manager_->Tick();
  EXPECT_EQ(store_.size(), 0u);
  EXPECT_EQ(manager_->Stats().live_leases, 0u);
}

TEST_F(LeaseManagerConcurrencyTest, AGrantCommitsWithoutTheLockAndKeepsItsPorts) {
  Start({20000, 20001});
  absl::Notification entered, open;
  store_.GateNext(/*put=*/true, &entered, &open);
  absl::StatusOr<LeaseRecord> first;
  std::thread granter([&] { first = manager_->Acquire(Counted(1)); });
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // Reserved for the grant being committed: the other port only.
  absl::StatusOr<LeaseRecord> second = manager_->Acquire(Counted(1));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(absl::IsResourceExhausted(manager_->Acquire(Counted(1)).status()));
  open.Notify();
  granter.join();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_NE(first->base, second->base);
  EXPECT_EQ(manager_->Stats().live_leases, 2u);
}

TEST_F(LeaseManagerConcurrencyTest, AFailedGrantCommitGivesItsPortsBack) {
  Start({20000, 20001});
  store_.Fail(absl::UnavailableError("disk full"));
  EXPECT_TRUE(absl::IsUnavailable(manager_->Acquire(Counted(2)).status()));
  PoolStats stats = manager_->Stats();
  EXPECT_EQ(stats.free, 2u);
  EXPECT_EQ(stats.leased, 0u);
  EXPECT_EQ(stats.live_leases, 0u);
  store_.Fail(absl::OkStatus());
  EXPECT_TRUE(manager_->Acquire(Counted(2)).ok());
}

TEST_F(LeaseManagerConcurrencyTest, ARetryWaitsForTheGrantBeingCommitted) {
  Start({20000, 20009});
  absl::Notification entered, open;
  store_.GateNext(/*put=*/true, &entered, &open);
  AcquireParams params = Counted(2);
  params.request_id = "retry-me";
  absl::StatusOr<LeaseRecord> first;
  std::thread granter([&] { first = manager_->Acquire(params); });
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(absl::Seconds(30)));
  absl::StatusOr<LeaseRecord> retry;
  std::thread retrier([&] { retry = manager_->Acquire(params); });
  open.Notify();
  granter.join();
  retrier.join();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(first->id, retry->id);
  EXPECT_EQ(manager_->Stats().live_leases, 1u);
}

TEST_F(LeaseManagerConcurrencyTest, ConcurrentClientsNeverShareAPort) {
  Start({20000, 20019});
  constexpr int kThreads = 8;
  constexpr int kRounds = 300;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        absl::StatusOr<LeaseRecord> lease = manager_->Acquire(Counted(3));
        if (absl::IsResourceExhausted(lease.status())) continue;
        if (!lease.ok() || !manager_->Release(lease->id, kAlice).ok()) ++errors;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(store_.overlaps(), 0);
  EXPECT_EQ(store_.size(), 0u);
  PoolStats stats = manager_->Stats();
  EXPECT_EQ(stats.free, 20u);
  EXPECT_EQ(stats.live_leases, 0u);
}

}  // namespace
}  // namespace portlease
