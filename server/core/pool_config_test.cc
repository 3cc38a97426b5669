#include "server/core/pool_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

TEST(FitPoolTest, RefusesOverlapWithEphemeralRange) {
  auto r = FitPool({{30000, 40000}}, {32768, 60999}, EphemeralPolicy::kRefuse);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("--ephemeral=trim"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("32768-60999"));
}

TEST(FitPoolTest, TrimsOverlap) {
  auto r = FitPool({{30000, 40000}, {61000, 61010}, {10000, 10010}},
                   {32768, 60999}, EphemeralPolicy::kTrim);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (std::vector<PortRange>{{10000, 10010}, {30000, 32767}, {61000, 61010}}));
}

TEST(FitPoolTest, TrimAroundAPoolInsideTheEphemeralRangeLeavesNothing) {
  auto r = FitPool({{40000, 40010}}, {32768, 60999}, EphemeralPolicy::kTrim);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FitPoolTest, AllowKeepsOverlapAndMergesTouchingRanges) {
  auto r = FitPool({{40000, 40010}, {40011, 40020}}, {32768, 60999},
                   EphemeralPolicy::kAllow);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<PortRange>{{40000, 40020}}));
}

TEST(FitPoolTest, RejectsOverlappingPoolRanges) {
  auto r = FitPool({{1000, 2000}, {1500, 2500}}, {32768, 60999},
                   EphemeralPolicy::kRefuse);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace portlease
