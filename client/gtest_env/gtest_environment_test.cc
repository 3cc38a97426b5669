#include "portlease/gtest_environment.h"

#include <unistd.h>

#include <fstream>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/map_lookup.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

using portlease::testing::MapLookup;

TEST(LeaseEnvironmentTest, LoadsTheEnvFile) {
  const std::string path =
      ::testing::TempDir() + "gtest_env_test." + std::to_string(getpid());
  std::ofstream(path) << "REDIS_PORT=41000\nPORTLEASE_LEASE_ID=abc\n";
  absl::StatusOr<Variables> vars = LeaseEnvironment::Load(
      MapLookup({{"PORTLEASE_ENV_FILE", path}}), {}, {"redis"});
  std::remove(path.c_str());
  ASSERT_TRUE(vars.ok()) << vars.status();
  EXPECT_EQ(vars->size(), 2u);
}

TEST(LeaseEnvironmentTest, FallsBackToTheProcessEnvironment) {
  absl::StatusOr<Variables> vars = LeaseEnvironment::Load(
      MapLookup({}), {{"PORTLEASE_LEASE_ID", "abc"}, {"MY_DB_PORT", "41001"}},
      {"my-db"});
  ASSERT_TRUE(vars.ok()) << vars.status();
}

TEST(LeaseEnvironmentTest, NoLeaseSaysHowToRun) {
  absl::StatusOr<Variables> vars =
      LeaseEnvironment::Load(MapLookup({}), {{"HOME", "/root"}}, {});
  EXPECT_EQ(vars.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(vars.status().message(), HasSubstr("no lease for this test"));
  EXPECT_THAT(vars.status().message(), HasSubstr("portlease_add_fixture"));

  vars = LeaseEnvironment::Load(
      MapLookup({{"PORTLEASE_ENV_FILE", "/nonexistent/m2.env"}}), {}, {});
  EXPECT_THAT(vars.status().message(), HasSubstr("does not exist"));
}

TEST(LeaseEnvironmentTest, MissingRequiredPort) {
  absl::StatusOr<Variables> vars = LeaseEnvironment::Load(
      MapLookup({}), {{"PORTLEASE_LEASE_ID", "abc"}}, {"redis"});
  EXPECT_THAT(vars.status().message(), HasSubstr("REDIS_PORT"));
}

}  // namespace
}  // namespace portlease
