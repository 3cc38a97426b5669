#include "server/core/port_table.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

using State = PortView::State;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

absl::Duration Secs(int s) { return absl::Seconds(s); }

TEST(PortTableTest, RestingStatesFollowThePool) {
  PortTable ports({{100, 109}}, {105});
  EXPECT_EQ(ports.state(100), State::kFree);
  EXPECT_EQ(ports.state(105), State::kExcluded);
  EXPECT_EQ(ports.state(99), State::kOutsidePool);
  EXPECT_EQ(ports.state(110), State::kOutsidePool);
  EXPECT_EQ(ports.pool_size(), 9u);
  EXPECT_EQ(ports.available(), 9u);
  EXPECT_EQ(ports.largest_block(), 5u);
  EXPECT_EQ(ports.count(State::kFree), 9u);
  EXPECT_EQ(ports.count(State::kExcluded), 1u);
  EXPECT_EQ(ports.count(State::kOutsidePool), 65536u - 10u);
}

TEST(PortTableTest, SetKeepsCountsAndAllocatorInStep) {
  PortTable ports({{100, 109}}, {});
  ports.Set(102, 3, State::kLeased);
  EXPECT_EQ(ports.state(102), State::kLeased);
  EXPECT_EQ(ports.state(104), State::kLeased);
  EXPECT_EQ(ports.count(State::kLeased), 3u);
  EXPECT_EQ(ports.count(State::kFree), 7u);
  EXPECT_EQ(ports.available(), 7u);
  EXPECT_EQ(ports.largest_block(), 5u);
  ports.Set(102, 3, State::kFree);
  EXPECT_EQ(ports.count(State::kLeased), 0u);
  EXPECT_EQ(ports.available(), 10u);
}

TEST(PortTableTest, FindSkipsTakenPortsAndAdvancesTheCursor) {
  PortTable ports({{100, 109}}, {});
  ports.Set(100, 2, State::kLeased);
  ASSERT_EQ(ports.Find(3), Port{102});
  ports.AdvanceCursor(104);
  EXPECT_EQ(ports.Find(3), Port{105});
  EXPECT_EQ(ports.Find(11), std::nullopt);
}

TEST(PortTableTest, DrainedPortRestsDisabledAndComesBack) {
  PortTable ports({{100, 109}}, {});
  ports.SetDrained(103, true);
  EXPECT_EQ(ports.state(103), State::kDisabled);
  EXPECT_EQ(ports.count(State::kDisabled), 1u);
  EXPECT_EQ(ports.available(), 9u);
  ports.SetDrained(103, false);
  EXPECT_EQ(ports.state(103), State::kFree);
  EXPECT_EQ(ports.available(), 10u);
}

TEST(PortTableTest, DrainingALeasedPortTakesEffectWhenItIsFreed) {
  PortTable ports({{100, 109}}, {});
  ports.Set(100, 4, State::kLeased);
  ports.SetDrained(101, true);
  EXPECT_EQ(ports.state(101), State::kLeased);
  ports.Set(100, 4, State::kFree);
  EXPECT_EQ(ports.state(100), State::kFree);
  EXPECT_EQ(ports.state(101), State::kDisabled);
  EXPECT_EQ(ports.available(), 9u);
  EXPECT_EQ(ports.Find(9), std::nullopt);
}

TEST(PortTableTest, DrainedPortOutsideThePoolIsRememberedForRebuild) {
  PortTable ports({{100, 109}}, {});
  ports.SetDrained(200, true);
  EXPECT_EQ(ports.state(200), State::kOutsidePool);
  ports.Rebuild({{200, 201}}, {});
  EXPECT_EQ(ports.state(200), State::kDisabled);
  EXPECT_EQ(ports.state(201), State::kFree);
  EXPECT_EQ(ports.state(100), State::kOutsidePool);
  EXPECT_EQ(ports.pool_size(), 2u);
  EXPECT_EQ(ports.available(), 1u);
}

TEST(PortTableTest, RebuildKeepsOwnedAndTimedPorts) {
  PortTable ports({{100, 109}}, {});
  ports.Set(100, 2, State::kLeased);
  ports.Quarantine(102, 1, Secs(5));
  ASSERT_TRUE(ports.BackOff(103, Secs(5)));
  ports.Rebuild({{105, 120}}, {110});
  EXPECT_EQ(ports.state(100), State::kLeased);
  EXPECT_EQ(ports.state(102), State::kQuarantined);
  EXPECT_EQ(ports.state(103), State::kBusy);
  EXPECT_EQ(ports.state(104), State::kOutsidePool);
  EXPECT_EQ(ports.state(110), State::kExcluded);
  EXPECT_EQ(ports.count(State::kLeased), 2u);
  EXPECT_EQ(ports.available(), 15u);
  // Back from their timers, the ports rest under the new pool.
  std::vector<Port> cooled;
  EXPECT_TRUE(ports.EndTimers(Secs(5), &cooled));
  EXPECT_THAT(cooled, ElementsAre(102));
  EXPECT_EQ(ports.state(102), State::kOutsidePool);
  EXPECT_EQ(ports.state(103), State::kOutsidePool);
  ports.Set(100, 2, State::kFree);
  EXPECT_EQ(ports.state(100), State::kOutsidePool);
  EXPECT_EQ(ports.count(State::kOutsidePool), 65536u - 16u);
}

TEST(PortTableTest, TimersEndInOrderAndOnlyWhenDue) {
  PortTable ports({{100, 109}}, {});
  EXPECT_EQ(ports.NextTimer(), std::nullopt);
  ports.Quarantine(100, 2, Secs(3));
  ASSERT_TRUE(ports.BackOff(105, Secs(2)));
  EXPECT_EQ(ports.NextTimer(), Secs(2));
  std::vector<Port> cooled;
  EXPECT_FALSE(ports.EndTimers(Secs(1), &cooled));
  EXPECT_TRUE(ports.EndTimers(Secs(2), &cooled));
  EXPECT_THAT(cooled, IsEmpty());  // a back-off is not a cool-down
  EXPECT_EQ(ports.state(105), State::kFree);
  EXPECT_EQ(ports.state(100), State::kQuarantined);
  EXPECT_EQ(ports.NextTimer(), Secs(3));
  EXPECT_TRUE(ports.EndTimers(Secs(3), &cooled));
  EXPECT_THAT(cooled, ElementsAre(100, 101));
  EXPECT_EQ(ports.available(), 10u);
  EXPECT_EQ(ports.NextTimer(), std::nullopt);
}

TEST(PortTableTest, ATimerLeavesAPortSomethingElseTook) {
  PortTable ports({{100, 109}}, {});
  ports.Quarantine(100, 1, Secs(1));
  ports.Set(100, 1, State::kLeased);  // granted again without waiting
  std::vector<Port> cooled;
  EXPECT_FALSE(ports.EndTimers(Secs(1), &cooled));
  EXPECT_THAT(cooled, IsEmpty());
  EXPECT_EQ(ports.state(100), State::kLeased);
}

TEST(PortTableTest, OnlyAFreePortBacksOff) {
  PortTable ports({{100, 109}}, {});
  ports.Set(100, 1, State::kLeased);
  EXPECT_FALSE(ports.BackOff(100, Secs(1)));
  EXPECT_FALSE(ports.BackOff(50, Secs(1)));  // outside the pool
  EXPECT_EQ(ports.state(100), State::kLeased);
  EXPECT_EQ(ports.NextTimer(), std::nullopt);
}

TEST(PortTableTest, ABlockWithADisabledPortFreesTheOthers) {
  PortTable ports({{100, 109}}, {});
  ports.Set(100, 3, State::kDraining);
  ports.SetDrained(101, true);
  ports.Set(100, 3, State::kFree);
  EXPECT_EQ(ports.state(100), State::kFree);
  EXPECT_EQ(ports.state(101), State::kDisabled);
  EXPECT_EQ(ports.state(102), State::kFree);
  EXPECT_EQ(ports.available(), 9u);
  EXPECT_EQ(ports.largest_block(), 8u);
}

}  // namespace
}  // namespace portlease
