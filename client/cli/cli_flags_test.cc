#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "cli/cli_internal.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

// The message of parsing and checking `args`, or "" when they are fine.
std::string Refusal(const std::vector<std::string>& args) {
  absl::StatusOr<CliFlags> flags = ParseCliFlags(args);
  if (!flags.ok()) return std::string(flags.status().message());
  absl::Status applies = CheckFlagsApply(*flags);
  return std::string(applies.message());
}

TEST(CliFlagsTest, CommandsTakeTheirOwnFlags) {
  EXPECT_EQ(Refusal({"acquire", "--count", "3", "--ttl", "5m", "--format=shell"}),
            "");
  EXPECT_EQ(Refusal({"list", "--owner", "CI_JOB_ID=7", "--format", "json"}), "");
  EXPECT_EQ(Refusal({"release", "0123456789abcdef0123456789abcdef"}), "");
  EXPECT_EQ(Refusal({"server", "stop", "--force", "--wait", "3s"}), "");
  EXPECT_EQ(Refusal({"admin", "set-pool", "--pool", "1-2", "--format=json"}), "");
  EXPECT_EQ(Refusal({"preflight", "--ports", "6379"}), "");
}

TEST(CliFlagsTest, AFlagOfAnotherCommandNamesFlagAndCommand) {
  EXPECT_THAT(Refusal({"release", "0123456789abcdef0123456789abcdef",
                       "--count", "3"}),
              HasSubstr("--count does not apply to release"));
  EXPECT_THAT(Refusal({"status", "--owner", "a=b"}),
              HasSubstr("--owner does not apply to status"));
  EXPECT_THAT(Refusal({"server", "status", "--force"}),
              HasSubstr("--force does not apply to server status"));
  EXPECT_THAT(Refusal({"admin", "drain", "20000", "--pool", "1-2"}),
              HasSubstr("--pool does not apply to admin drain"));
}

TEST(CliFlagsTest, FormatsAreCheckedPerCommand) {
  EXPECT_EQ(Refusal({"list", "--format", "env"}),
            "--format=env does not apply to list: want table or json");
  EXPECT_EQ(Refusal({"preflight", "--ports", "1", "--format=json"}),
            "--format does not apply to preflight: it prints text only");
  EXPECT_THAT(Refusal({"who", "1", "--format=xml"}),
              HasSubstr("--format=xml: want table, json, env or shell"));
}

TEST(CliFlagsTest, StrayArgumentsAndMalformedOwner) {
  EXPECT_EQ(Refusal({"list", "extra"}), "list takes no arguments (got \"extra\")");
  EXPECT_EQ(Refusal({"list", "--owner", "badformat"}),
            "--owner badformat: want KEY=VALUE (e.g. GITHUB_RUN_ID=42)");
  EXPECT_THAT(Refusal({"list", "--owner", "=x"}), HasSubstr("want KEY=VALUE"));
}

TEST(CliFlagsTest, UnknownCommandsAreLeftToTheirHandlers) {
  EXPECT_EQ(Refusal({"frobnicate", "--count", "1"}), "");
  EXPECT_EQ(Refusal({"admin", "frob", "--count", "1"}), "");
}

TEST(CliFlagsTest, EventsTakeASinceAndALimit) {
  EXPECT_EQ(Refusal({"events", "--since", "10m", "--limit", "5",
                     "--format=json"}),
            "");
  EXPECT_EQ(Refusal({"events", "--since", "2030-01-17T08:00:00Z"}), "");
  EXPECT_THAT(Refusal({"events", "--since", "yesterday"}),
              HasSubstr("--since yesterday: want a duration back from now"));
  EXPECT_EQ(Refusal({"events", "--limit", "0"}),
            "--limit 0: want a positive number");
  EXPECT_THAT(Refusal({"list", "--since", "1h"}), HasSubstr("--since"));
  EXPECT_EQ(Refusal({"events", "extra"}),
            "events takes no arguments (got \"extra\")");
}

TEST(ParseSinceTest, ADurationIsBackFromNowATimeIsItself) {
  const absl::Time now = absl::FromUnixSeconds(1900000000);
  absl::StatusOr<absl::Time> ago = ParseSince("90m", now);
  ASSERT_TRUE(ago.ok()) << ago.status();
  EXPECT_EQ(*ago, now - absl::Minutes(90));
  absl::StatusOr<absl::Time> at = ParseSince("2030-01-17T08:00:00.5Z", now);
  ASSERT_TRUE(at.ok()) << at.status();
  EXPECT_EQ(*at, absl::FromUnixMillis(1894867200500));
  EXPECT_FALSE(ParseSince("-5m", now).ok());
  EXPECT_FALSE(ParseSince("", now).ok());
}

}  // namespace
}  // namespace portlease
