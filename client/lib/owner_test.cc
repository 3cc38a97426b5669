#include "portlease/owner.h"

#include <unistd.h>

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

using ::testing::Contains;
using ::testing::Key;
using ::testing::Not;
using ::testing::Pair;

TEST(StartTimeFromProcStatTest, CountsFieldsAfterTheCommandName) {
  // Field 22 is the start time; the command name holds ") (" and spaces.
  std::string stat = "123 (a) b (c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 "
                     "18 98765 19 20";
  EXPECT_EQ(StartTimeFromProcStat(stat), "98765");
  EXPECT_EQ(StartTimeFromProcStat("garbage"), std::nullopt);
  EXPECT_EQ(StartTimeFromProcStat("1 (x) S 1 2"), std::nullopt);
}

TEST(OwnerMetadataTest, BuildsFromFacts) {
  ProcessFacts facts;
  facts.host = "h";
  facts.user = "u";
  facts.pid = 42;
  facts.start_ticks = "777";
  facts.command = std::string(1000, 'c');
  std::map<std::string, std::string> env = {{"GITHUB_RUN_ID", "9"},
                                            {"CI_JOB_ID", "8"},
                                            {"UNRELATED", "x"}};
  facts.environment = [&env](absl::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  OwnerMetadata owner = BuildOwnerMetadata(facts);
  EXPECT_THAT(owner, Contains(Pair("host", "h")));
  EXPECT_THAT(owner, Contains(Pair("user", "u")));
  EXPECT_THAT(owner, Contains(Pair("pid", "42")));
  EXPECT_THAT(owner, Contains(Pair("pid_start", "777")));
  EXPECT_THAT(owner, Contains(Pair("GITHUB_RUN_ID", "9")));
  EXPECT_THAT(owner, Contains(Pair("CI_JOB_ID", "8")));
  EXPECT_THAT(owner, Not(Contains(Key("UNRELATED"))));
  EXPECT_EQ(owner["command"].size(), 256u);
}

TEST(OwnerMetadataTest, CurrentProcess) {
  ProcessFacts facts = CurrentProcessFacts();
  EXPECT_EQ(facts.pid, getpid());
  EXPECT_FALSE(facts.start_ticks.empty());
  EXPECT_FALSE(facts.user.empty());
  EXPECT_THAT(facts.command, ::testing::HasSubstr("client_test"));
  // Left to the server: no lookup, the rest the same.
  ProcessFacts without_user = CurrentProcessFacts(UserLookup::kServer);
  EXPECT_TRUE(without_user.user.empty());
  EXPECT_EQ(without_user.start_ticks, facts.start_ticks);
  EXPECT_FALSE(BuildOwnerMetadata(without_user).contains("user"));
}

}  // namespace
}  // namespace portlease
