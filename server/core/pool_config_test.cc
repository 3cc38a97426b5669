#include "server/core/pool_config.h"

#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

TEST(FitPoolTest, RefusesOverlapWithEphemeralRange) {
  auto r = FitPool({{30000, 40000}}, {32768, 60999}, EphemeralPolicy::kRefuse);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("choose a pool outside it"));
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

namespace portlease {
namespace {

TEST(PoolConfigTest, FitsSortsAndCountsWhatCanBeGranted) {
  PoolFit fit;
  fit.ephemeral = {32768, 60999};
  fit.policy = EphemeralPolicy::kTrim;
  fit.always_exclude = {20005, 6379};
  absl::StatusOr<PoolConfig> pool =
      PoolConfig::Make({{32760, 32800}, {20000, 20009}}, {20001, 20005}, fit);
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ(pool->ranges(),
            (std::vector<PortRange>{{20000, 20009}, {32760, 32767}}));
  EXPECT_EQ(pool->exclude(), (std::vector<Port>{20001, 20005}));
  EXPECT_EQ(pool->excluded(), (std::vector<Port>{6379, 20001, 20005}));
  EXPECT_EQ(pool->size(), 16u);  // 10 - 2 excluded + 8 kept below 32768
}

TEST(PoolConfigTest, RefusesWhatCannotBeAPool) {
  const PoolFit fit;
  for (const auto& [ranges, exclude, message] :
       std::vector<std::tuple<std::vector<PortRange>, std::vector<Port>,
                              std::string>>{
           {{}, {}, "the pool is empty"},
           {{{0, 10}}, {}, "pool range 0-10 is not LO-HI with 1 <= LO <= HI"},
           {{{30, 20}}, {}, "pool range 30-20 is not LO-HI with 1 <= LO <= HI"},
           {{{10, 20}, {15, 30}}, {}, "pool ranges 10-20 and 15-30 overlap"},
           {{{10, 11}},
            {10, 11},
            "the pool '10-11' has no port left once the excluded ports are "
            "taken out"},
       }) {
    absl::StatusOr<PoolConfig> pool = PoolConfig::Make(ranges, exclude, fit);
    EXPECT_TRUE(absl::IsInvalidArgument(pool.status())) << message;
    EXPECT_EQ(pool.status().message(), message);
  }
}

TEST(PoolConfigTest, TheAlwaysExcludedPortsCountAgainstThePool) {
  PoolFit fit;
  fit.always_exclude = {8080};
  EXPECT_TRUE(absl::IsInvalidArgument(
      PoolConfig::Make({{8080, 8080}}, {}, fit).status()));
  fit.always_exclude.clear();
  EXPECT_EQ(PoolConfig::Make({{8080, 8080}}, {}, fit)->size(), 1u);
}

TEST(PoolConfigTest, CoreMessagesNameNoFlags) {
  PoolFit fit;
  fit.ephemeral = {32768, 60999};
  fit.policy = EphemeralPolicy::kRefuse;
  absl::StatusOr<PoolConfig> pool = PoolConfig::Make({{30000, 40000}}, {}, fit);
  ASSERT_TRUE(absl::IsInvalidArgument(pool.status()));
  EXPECT_THAT(std::string(pool.status().message()),
              ::testing::Not(HasSubstr("--")));
}

}  // namespace
}  // namespace portlease
