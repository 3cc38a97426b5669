#include "lease_run/lease_run_modes.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "cli_common/acquire_flow.h"
#include "testing/map_lookup.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

using portlease::testing::MapLookup;

TEST(ShouldReuseOuterLeaseTest, OnlyWhenAskedAndOnlyForOneFixture) {
  LeaseRunOptions options;
  options.ctest_fixture = "web";
  // Not asked: never, although an outer lease may be in the environment.
  EXPECT_FALSE(*ShouldReuseOuterLease(options, MapLookup({})));
  EXPECT_FALSE(*ShouldReuseOuterLease(
      options, MapLookup({{"PORTLEASE_CTEST_REUSE", "0"}})));
  // The fixture by name.
  EXPECT_TRUE(*ShouldReuseOuterLease(
      options, MapLookup({{"PORTLEASE_CTEST_REUSE", "web"}})));
  // REUSE_OUTER on the fixture.
  LeaseRunOptions flagged = options;
  flagged.reuse_environment = true;
  EXPECT_TRUE(*ShouldReuseOuterLease(flagged, MapLookup({})));
  // ... unless PORTLEASE_CTEST_REUSE names another fixture, or none.
  EXPECT_FALSE(*ShouldReuseOuterLease(
      flagged, MapLookup({{"PORTLEASE_CTEST_REUSE", "db"}})));
  EXPECT_FALSE(*ShouldReuseOuterLease(
      flagged, MapLookup({{"PORTLEASE_CTEST_REUSE", "off"}})));

  portlease::testing::TempDir dir;
  options.ctest_fixtures_file = dir.File("fixtures");
  std::ofstream(options.ctest_fixtures_file) << "web\ndb\n";
  // Another listed fixture's name: not this one.
  EXPECT_FALSE(*ShouldReuseOuterLease(
      options, MapLookup({{"PORTLEASE_CTEST_REUSE", "db"}})));
  // "1" with two fixtures is ambiguous; a name no fixture has is a typo.
  absl::StatusOr<bool> ambiguous = ShouldReuseOuterLease(
      options, MapLookup({{"PORTLEASE_CTEST_REUSE", "1"}}));
  EXPECT_EQ(ambiguous.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ambiguous.status().message(), HasSubstr("web, db"));
  EXPECT_FALSE(ShouldReuseOuterLease(
                   options, MapLookup({{"PORTLEASE_CTEST_REUSE", "wbe"}}))
                   .ok());
  // "1" with one fixture: that one.
  std::ofstream(options.ctest_fixtures_file) << "web\n";
  EXPECT_TRUE(*ShouldReuseOuterLease(
      options, MapLookup({{"PORTLEASE_CTEST_REUSE", "1"}})));
}

TEST(ParseLeaseRunArgsTest, DetachMode) {
  auto options =
      ParseLeaseRunArgs({"--profile", "p.json", "--env-file", "m2.env",
                         "--detach", "--watch-pid", "42", "--watch-start-time",
                         "99", "--max-hold", "10m", "--reuse-environment"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->detach);
  EXPECT_EQ(options->watch_pid, 42);
  EXPECT_EQ(options->watch_start_time, 99u);
  EXPECT_EQ(options->max_hold, absl::Minutes(10));
  EXPECT_TRUE(options->reuse_environment);
  EXPECT_TRUE(options->command.empty());
}

TEST(ParseLeaseRunArgsTest, ModeErrors) {
  EXPECT_THAT(
      ParseLeaseRunArgs({"--ports", "a", "--detach"}).status().message(),
      HasSubstr("--detach needs --env-file"));
  EXPECT_THAT(ParseLeaseRunArgs(
                  {"--ports", "a", "--env-file", "e", "--detach", "--", "cmd"})
                  .status()
                  .message(),
              HasSubstr("no command"));
  EXPECT_THAT(ParseLeaseRunArgs({"--ports", "a", "--watch-ctest", "--", "c"})
                  .status()
                  .message(),
              HasSubstr("need --detach"));
  EXPECT_THAT(ParseLeaseRunArgs({"--release-env-file", "e", "--ports", "a"})
                  .status()
                  .message(),
              HasSubstr("no other flags"));
  EXPECT_TRUE(ParseLeaseRunArgs({"--release-env-file", "e"}).ok());
  EXPECT_THAT(ParseLeaseRunArgs({"--ports", "a", "--blocks", "2", "--", "c"})
                  .status()
                  .message(),
              HasSubstr("go together"));
  auto blocks = ParseLeaseRunArgs({"--ports", "a", "--ctest-resource-spec",
                                   "r.json", "--blocks", "3", "--", "ctest"});
  ASSERT_TRUE(blocks.ok()) << blocks.status();
  EXPECT_EQ(blocks->blocks, 3u);
}

}  // namespace
TEST(AcquireErrorMessageTest, ACallerLimitIsNotAnExhaustedPool) {
  const absl::Status share = absl::ResourceExhaustedError(
      "caller uid:0 holds 100 ports in live leases and asks for 5; one caller "
      "may hold at most 102 (--max-ports-per-owner=102); release leases or "
      "ask for fewer ports");
  EXPECT_EQ(AcquireErrorMessage(share, "unix:/s", absl::ZeroDuration()),
            absl::StrCat("caller limit reached: ", share.message()));
  const absl::Status full =
      absl::ResourceExhaustedError("the pool cannot serve 5 contiguous ports");
  EXPECT_EQ(AcquireErrorMessage(full, "unix:/s", absl::ZeroDuration()),
            "pool exhausted: the pool cannot serve 5 contiguous ports (use "
            "--wait DURATION to queue)");
}

}  // namespace portlease
