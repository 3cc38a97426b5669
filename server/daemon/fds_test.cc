// portleased's open-file budget and per-owner port share.
#include <sys/resource.h>

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/daemon/fds.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

TEST(FdBudgetTest, ConnectionsFitTheOpenFileLimitMinusAReserve) {
  EXPECT_EQ(FdReserve(64), 32u);
  EXPECT_EQ(FdReserve(1 << 20), (1u << 20) / 8);
  // 0: what the budget allows, per Unix listener.
  EXPECT_EQ(*ConnectionBudget(0, 1, 64), 32u);
  EXPECT_EQ(*ConnectionBudget(0, 2, 1024), (1024u - 128) / 2);
  EXPECT_EQ(*ConnectionBudget(0, 1, 16), 1u);  // never 0
  EXPECT_EQ(*ConnectionBudget(32, 1, 64), 32u);
  absl::StatusOr<uint32_t> over = ConnectionBudget(33, 1, 64);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(over.status().message(),
              HasSubstr("--max-connections=33 does not fit the open-file "
                        "limit 64"));
  EXPECT_THAT(over.status().message(), HasSubstr("use at most 32"));
  EXPECT_TRUE(CheckStreamBudget(100).ok());
  EXPECT_THAT(CheckStreamBudget(0).message(), HasSubstr("--max-streams=0"));
  EXPECT_FALSE(CheckStreamBudget(65537).ok());
}

TEST(FdBudgetTest, RaisesTheSoftLimitToTheHardOne) {
  rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max < 128) GTEST_SKIP() << "hard limit too low to test";
  rlimit low = saved;
  low.rlim_cur = 64;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  const FdLimit limit = RaiseFdLimit();
  rlimit now;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_EQ(limit.before, 64u);
  EXPECT_GT(limit.soft, 64u);
  EXPECT_EQ(limit.soft, now.rlim_cur);
  EXPECT_EQ(limit.hard, saved.rlim_max);
}

TEST(PortsPerOwnerTest, ATenthOfThePoolButNeverLessThanOneLease) {
  const std::vector<PortRange> pool = {{20000, 29999}};
  EXPECT_EQ(*PortsPerOwner(-1, pool, 64), 1000u);
  EXPECT_EQ(*PortsPerOwner(-1, {{20000, 20099}}, 64), 64u);
  EXPECT_EQ(*PortsPerOwner(0, pool, 64), 0u);  // no limit
  EXPECT_EQ(*PortsPerOwner(12, pool, 64), 12u);
  absl::StatusOr<uint32_t> bad = PortsPerOwner(-2, pool, 64);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("--max-ports-per-owner=-2"));
}

}  // namespace
}  // namespace portlease
