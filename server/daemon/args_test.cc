// portleased's command-line preparation and --help flag list.
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/daemon/args.h"

ABSL_FLAG(std::vector<std::string>, test_list, {}, "a list");
ABSL_FLAG(int, test_number, 0, "a number");
ABSL_FLAG(bool, test_switch, false, "a switch");

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<std::vector<std::string>> Prepare(
    std::vector<std::string> args) {
  args.insert(args.begin(), "prog");
  return PrepareArgs(args, {"test_list"});
}

TEST(PrepareArgsTest, JoinsRepeatedListFlags) {
  absl::StatusOr<std::vector<std::string>> out =
      Prepare({"--test_list=a", "--test_number", "5", "--test_list", "b,c",
               "--test_switch", "--notest_switch", "--help"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out,
              ElementsAre("prog", "--test_list=a,b,c", "--test_number=5",
                          "--test_switch=true", "--notest_switch", "--help"));
}

TEST(PrepareArgsTest, DashesAndUnderscoresAreOneFlag) {
  absl::StatusOr<std::vector<std::string>> out =
      Prepare({"--test-list=a-b", "--test_list", "c", "--test-number", "5",
               "--notest-switch"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, ElementsAre("prog", "--test_list=a-b,c", "--test_number=5",
                                "--notest_switch"));
}

TEST(PrepareArgsTest, RejectsBadArguments) {
  EXPECT_THAT(Prepare({"--nope"}).status().message(),
              HasSubstr("unknown flag --nope"));
  // Messages use the user's spelling.
  EXPECT_THAT(Prepare({"--no-such-flag"}).status().message(),
              HasSubstr("unknown flag --no-such-flag "));
  EXPECT_THAT(Prepare({"--test-number=x"}).status().message(),
              HasSubstr("for --test-number:"));
  EXPECT_THAT(Prepare({"--test-number"}).status().message(),
              HasSubstr("flag --test-number needs a value"));
  EXPECT_THAT(Prepare({"--test_number=x"}).status().message(),
              HasSubstr("--test_number"));
  EXPECT_THAT(Prepare({"--test_number"}).status().message(),
              HasSubstr("needs a value"));
  EXPECT_THAT(Prepare({"extra"}).status().message(),
              HasSubstr("unexpected argument"));
  EXPECT_THAT(Prepare({"--", "extra"}).status().message(),
              HasSubstr("unexpected argument"));
  EXPECT_EQ(Prepare({"--nonope"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FormatFlagHelpTest, ListsTheFileFlagsSortedWithValueNamesAndDefaults) {
  EXPECT_EQ(FormatFlagHelp("server/daemon/args_test.cc", {{"test_list", "A,B"}}),
            "    --test-list=A,B\n"
            "        a list. Default: none.\n"
            "    --test-number=N\n"
            "        a number. Default: 0.\n"
            "    --[no]test-switch\n"
            "        a switch. Default: false.\n");
  EXPECT_EQ(FormatFlagHelp("no/such/file.cc"), "");
}

}  // namespace
}  // namespace portlease
