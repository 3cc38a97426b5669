#include "server/service/idle_tracker.h"

#include <atomic>

#include "gtest/gtest.h"
#include "server/core/fake_clock.h"

namespace portlease {
namespace {

TEST(IdleTrackerTest, IdleFromConstruction) {
  FakeClock clock;
  IdleTracker idle(&clock, [] { return 0u; });
  EXPECT_EQ(idle.IdleFor(), absl::ZeroDuration());
  clock.Advance(absl::Minutes(3));
  EXPECT_EQ(idle.IdleFor(), absl::Minutes(3));
}

TEST(IdleTrackerTest, CallInFlightIsNotIdle) {
  FakeClock clock;
  IdleTracker idle(&clock, [] { return 0u; });
  idle.CallStarted();  // e.g. a Hold stream
  clock.Advance(absl::Hours(2));
  EXPECT_EQ(idle.IdleFor(), absl::ZeroDuration());
  EXPECT_EQ(idle.calls_in_flight(), 1u);
  clock.Advance(absl::Minutes(1));
  idle.CallEnded();
  EXPECT_EQ(idle.calls_in_flight(), 0u);
  clock.Advance(absl::Seconds(10));
  EXPECT_EQ(idle.IdleFor(), absl::Seconds(10));
}

TEST(IdleTrackerTest, EachCallRestartsTheIdleTime) {
  FakeClock clock;
  IdleTracker idle(&clock, [] { return 0u; });
  clock.Advance(absl::Minutes(10));
  idle.CallStarted();
  idle.CallEnded();
  clock.Advance(absl::Minutes(1));
  EXPECT_EQ(idle.IdleFor(), absl::Minutes(1));
}

TEST(IdleTrackerTest, LiveLeaseIsNotIdleAndItsEndStartsTheIdleTime) {
  FakeClock clock;
  std::atomic<uint32_t> live{1};
  IdleTracker idle(&clock, [&live] { return live.load(); });
  clock.Advance(absl::Minutes(30));
  EXPECT_EQ(idle.IdleFor(), absl::ZeroDuration());
  clock.Advance(absl::Minutes(1));
  live = 0;  // expired without an RPC
  EXPECT_EQ(idle.IdleFor(), absl::Minutes(1));
  clock.Advance(absl::Minutes(2));
  EXPECT_EQ(idle.IdleFor(), absl::Minutes(3));
}

TEST(IdleTrackerTest, ConcurrentCallsCountSeparately) {
  FakeClock clock;
  IdleTracker idle(&clock, nullptr);
  idle.CallStarted();
  idle.CallStarted();
  idle.CallEnded();
  clock.Advance(absl::Minutes(5));
  EXPECT_EQ(idle.IdleFor(), absl::ZeroDuration());
  idle.CallEnded();
  clock.Advance(absl::Minutes(5));
  EXPECT_EQ(idle.IdleFor(), absl::Minutes(5));
}

}  // namespace
}  // namespace portlease
