#include "lease_exec/lease_exec.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "portlease/ctest_resources.h"
#include "testing/map_lookup.h"

namespace portlease {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

using portlease::testing::MapLookup;

class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "lease_exec_test.XXXXXX";
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = path_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ParseLeaseExecArgsTest, FlagsThenCommand) {
  auto options = ParseLeaseExecArgs(
      {"--env-file", "a.env", "--", "./t", "--gtest_filter=x"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_THAT(options->env_files, ElementsAre("a.env"));
  EXPECT_THAT(options->command, ElementsAre("./t", "--gtest_filter=x"));
}

TEST(ParseLeaseExecArgsTest, CommandWithoutDashDash) {
  // As a test launcher: lease-exec ./t --gtest_filter=x
  auto options = ParseLeaseExecArgs({"./t", "--gtest_filter=x"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->env_files.empty());
  EXPECT_THAT(options->command, ElementsAre("./t", "--gtest_filter=x"));
}

TEST(ParseLeaseExecArgsTest, ResourceGroupFlags) {
  auto options = ParseLeaseExecArgs(
      {"--from-resource-group", "--resource-spec=r.json", "t"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->from_resource_group);
  EXPECT_EQ(options->resource_spec, "r.json");
}

TEST(ParseLeaseExecArgsTest, Errors) {
  EXPECT_THAT(ParseLeaseExecArgs({"--bogus", "t"}).status().message(),
              HasSubstr("unknown flag --bogus"));
  EXPECT_THAT(ParseLeaseExecArgs({"--env-file"}).status().message(),
              HasSubstr("needs a value"));
  EXPECT_THAT(ParseLeaseExecArgs({"--env-file", "f"}).status().message(),
              HasSubstr("missing command"));
  EXPECT_FALSE(
      ParseLeaseExecArgs({"--env-file", "f", "--from-resource-group", "t"})
          .ok());
  EXPECT_FALSE(ParseLeaseExecArgs({"--resource-spec", "f", "t"}).ok());
  EXPECT_TRUE(ParseLeaseExecArgs({"--help"})->help);
}

TEST(PlanLeaseExecTest, LoadsEnvFile) {
  TempDir dir;
  const std::string file = dir.Write("m2.env", "REDIS_PORT=41000\n");
  LeaseExecOptions options;
  options.env_files = {file};
  options.command = {"./t"};
  absl::StatusOr<LeaseExecPlan> plan = PlanLeaseExec(options, MapLookup({}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_FALSE(plan->pass_through);
  EXPECT_THAT(plan->vars, ElementsAre(Pair("REDIS_PORT", "41000"),
                                      Pair("PORTLEASE_ENV_FILE", file)));
}

TEST(PlanLeaseExecTest, SeveralEnvFilesMergeAndClashesFail) {
  TempDir dir;
  const std::string web = dir.Write(
      "web.env",
      "HTTP_PORT=41000\nPORTLEASE_LEASE_ID=aaaa\nPORTLEASE_PORTS=41000\n");
  const std::string db = dir.Write(
      "db.env",
      "PG_PORT=42000\nPORTLEASE_LEASE_ID=bbbb\nPORTLEASE_PORTS=42000\n");
  LeaseExecOptions options;
  options.env_files = {web, db};
  options.command = {"./t"};
  absl::StatusOr<LeaseExecPlan> plan = PlanLeaseExec(options, MapLookup({}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->vars,
              ElementsAre(Pair("HTTP_PORT", "41000"),
                          Pair("PORTLEASE_LEASE_ID", "aaaa"),
                          Pair("PORTLEASE_PORTS", "41000 42000"),
                          Pair("PG_PORT", "42000"),
                          Pair("PORTLEASE_ENV_FILE", web)));

  const std::string clash = dir.Write("clash.env", "HTTP_PORT=43000\n");
  options.env_files = {web, clash};
  plan = PlanLeaseExec(options, MapLookup({}));
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(plan.status().message(), HasSubstr("HTTP_PORT is in both"));
}

TEST(PlanLeaseExecTest, MissingEnvFileSaysWhy) {
  LeaseExecOptions options;
  options.env_files = {"/nonexistent/m2.env"};
  options.command = {"./t"};
  absl::StatusOr<LeaseExecPlan> plan = PlanLeaseExec(options, MapLookup({}));
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(plan.status().message(), HasSubstr("FIXTURES_REQUIRED"));
}

TEST(PlanLeaseExecTest, DiscoveryPassesThroughWithoutLease) {
  LeaseExecOptions options;
  options.env_files = {"/nonexistent/m2.env"};
  options.command = {"./t", "--gtest_list_tests"};
  absl::StatusOr<LeaseExecPlan> plan = PlanLeaseExec(options, MapLookup({}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->pass_through);
  EXPECT_TRUE(plan->vars.empty());

  options.command = {"./t"};
  EXPECT_TRUE(PlanLeaseExec(options, MapLookup({{"PORTLEASE_DISCOVERY", "1"}}))
                  ->pass_through);
  EXPECT_FALSE(
      PlanLeaseExec(options, MapLookup({{"PORTLEASE_DISCOVERY", "0"}})).ok());
}

TEST(PlanLeaseExecTest, EnvFileFromEnvironment) {
  TempDir dir;
  const std::string file = dir.Write("m2.env", "A_PORT=1\n");
  LeaseExecOptions options;
  options.command = {"./t"};
  absl::StatusOr<LeaseExecPlan> plan =
      PlanLeaseExec(options, MapLookup({{"PORTLEASE_ENV_FILE", file}}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->vars, Contains(Pair("A_PORT", "1")));
}

TEST(PlanLeaseExecTest, NoModeIsAnError) {
  LeaseExecOptions options;
  options.command = {"./t"};
  EXPECT_EQ(PlanLeaseExec(options, MapLookup({})).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(PlanLeaseExecTest, ResourceGroupMapsBlockToVariables) {
  TempDir dir;
  const std::string spec = dir.path() + "/res.json";
  dir.Write("res.json.block2.env", "REDIS_PORT=42000\nWORKER_PORT=42001\n");
  LeaseExecOptions options;
  options.command = {"./t"};
  const std::map<std::string, std::string> ctest = {
      {"PORTLEASE_RESOURCE_SPEC", spec},
      {"CTEST_RESOURCE_GROUP_COUNT", "1"},
      {"CTEST_RESOURCE_GROUP_0", "portlease"},
      {"CTEST_RESOURCE_GROUP_0_PORTLEASE", "id:block2,slots:1"}};
  absl::StatusOr<LeaseExecPlan> plan = PlanLeaseExec(options, MapLookup(ctest));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->vars, Contains(Pair("WORKER_PORT", "42001")));

  // Without the spec path there is nothing to map to.
  std::map<std::string, std::string> no_spec = ctest;
  no_spec.erase("PORTLEASE_RESOURCE_SPEC");
  options.from_resource_group = true;
  EXPECT_THAT(PlanLeaseExec(options, MapLookup(no_spec)).status().message(),
              HasSubstr("PORTLEASE_RESOURCE_SPEC"));
  options.resource_spec = spec;
  EXPECT_TRUE(PlanLeaseExec(options, MapLookup(no_spec)).ok());
}

TEST(ExecLeasePlanTest, MissingCommandIs127) {
  LeaseExecPlan plan;
  plan.argv = {"/nonexistent/portlease-command"};
  std::ostringstream err;
  EXPECT_EQ(ExecLeasePlan(plan, err), 127);
  EXPECT_THAT(err.str(), HasSubstr("cannot run"));
}

}  // namespace
}  // namespace portlease
