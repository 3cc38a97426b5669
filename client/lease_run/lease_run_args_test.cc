#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lease_run/lease_run.h"
#include "lease_run/child_process.h"

#include <sys/wait.h>

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseLeaseRunArgsTest, AllFlags) {
  auto options = ParseLeaseRunArgs(
      {"--ports", "redis,worker", "--render", "a:b", "--render=c:d",
       "--env-file", "e", "--wait=5m", "--ttl", "30s", "--udp", "--", "cmd",
       "--ports", "x"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->ports, "redis,worker");
  EXPECT_THAT(options->renders, ElementsAre("a:b", "c:d"));
  EXPECT_EQ(options->env_file, "e");
  EXPECT_EQ(options->wait, absl::Minutes(5));
  EXPECT_EQ(options->ttl, absl::Seconds(30));
  EXPECT_TRUE(options->udp);
  EXPECT_THAT(options->command, ElementsAre("cmd", "--ports", "x"));
}

TEST(ParseLeaseRunArgsTest, Errors) {
  EXPECT_THAT(ParseLeaseRunArgs({"--count", "2"}).status().message(),
              HasSubstr("missing command after --"));
  EXPECT_THAT(ParseLeaseRunArgs({"--count", "2", "--"}).status().message(),
              HasSubstr("missing command after --"));
  EXPECT_THAT(ParseLeaseRunArgs({"--count", "x", "--", "c"}).status().message(),
              HasSubstr("--count x"));
  EXPECT_THAT(ParseLeaseRunArgs({"make", "test"}).status().message(),
              HasSubstr("put the command after --"));
  EXPECT_THAT(ParseLeaseRunArgs({"--wait", "x", "--", "c"}).status().message(),
              HasSubstr("--wait=x"));
}

TEST(ParseLeaseRunArgsTest, HelpNeedsNoCommand) {
  auto options = ParseLeaseRunArgs({"--help"});
  ASSERT_TRUE(options.ok());
  EXPECT_TRUE(options->help);
  EXPECT_THAT(LeaseRunUsage(), HasSubstr("SYNOPSIS"));
}

TEST(ExitCodeFromWaitStatusTest, ShellConvention) {
  EXPECT_EQ(ExitCodeFromWaitStatus(3 << 8), 3);  // exited with 3
  EXPECT_EQ(ExitCodeFromWaitStatus(SIGTERM), 128 + SIGTERM);
}

}  // namespace
}  // namespace portlease
