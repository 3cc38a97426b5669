#include "server/core/pool_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

TEST(ParsePortRangesTest, ParsesRangesAndSinglePorts) {
  auto r = ParsePortRanges("20000-29999, 40000,41000-41009");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (std::vector<PortRange>{{20000, 29999}, {40000, 40000}, {41000, 41009}}));
  EXPECT_EQ(FormatPortRanges(*r), "20000-29999,40000,41000-41009");
}

TEST(ParsePortRangesTest, RejectsBadInput) {
  for (const char* bad : {"", "0-10", "10-5", "1-70000", "abc", "1-2-3", "5,,x"}) {
    auto r = ParsePortRanges(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ParsePortListTest, ExpandsRanges) {
  auto r = ParsePortList("80,8080-8082");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<Port>{80, 8080, 8081, 8082}));
  EXPECT_TRUE(ParsePortList("").value().empty());
}

TEST(ParseEphemeralRangeTest, ReadsProcFormat) {
  auto r = ParseEphemeralRange("32768\t60999\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (PortRange{32768, 60999}));
  EXPECT_FALSE(ParseEphemeralRange("32768").ok());
  EXPECT_FALSE(ParseEphemeralRange("9 5").ok());
}

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

TEST(FormatPortListTest, MergesRunsAndRoundTrips) {
  EXPECT_EQ(FormatPortList({}), "");
  EXPECT_EQ(FormatPortList({5, 3, 4, 9, 4}), "3-5,9");
  auto parsed = ParsePortList(FormatPortList({20001, 20000, 65535}));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, (std::vector<Port>{20000, 20001, 65535}));
}

}  // namespace
}  // namespace portlease
