// LeaseManager: AcquireOrWait and the FIFO queue of waiters.
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

}  // namespace
}  // namespace portlease
