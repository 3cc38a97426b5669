#include "cli_common/args.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(SplitCommandLineTest, FormsAndOrder) {
  auto split = SplitCommandLine(
      {"--a=1", "--a", "2", "--b", "pos", "-h", "--", "cmd", "--a"}, {"a"},
      {"b", "help"});
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_THAT(split->flags, ElementsAre(Pair("a", "1"), Pair("a", "2"),
                                        Pair("b", ""), Pair("help", "")));
  EXPECT_THAT(split->positional, ElementsAre("pos"));
  EXPECT_THAT(split->rest, ElementsAre("cmd", "--a"));
  EXPECT_TRUE(split->saw_dashdash);
}

TEST(SplitCommandLineTest, Errors) {
  EXPECT_THAT(SplitCommandLine({"--x"}, {}, {}).status().message(),
              HasSubstr("unknown flag --x"));
  EXPECT_THAT(SplitCommandLine({"-x"}, {}, {}).status().message(),
              HasSubstr("unknown flag -x"));
  EXPECT_THAT(SplitCommandLine({"--a"}, {"a"}, {}).status().message(),
              HasSubstr("needs a value"));
  EXPECT_THAT(SplitCommandLine({"--b=1"}, {}, {"b"}).status().message(),
              HasSubstr("takes no value"));
}

TEST(ParseFlagDurationTest, Forms) {
  EXPECT_EQ(*ParseFlagDuration("ttl", "300s"), absl::Seconds(300));
  EXPECT_EQ(*ParseFlagDuration("ttl", "90"), absl::Seconds(90));
  EXPECT_EQ(*ParseFlagDuration("ttl", "1h30m"), absl::Minutes(90));
  EXPECT_THAT(ParseFlagDuration("ttl", "soon").status().message(),
              HasSubstr("--ttl=soon"));
  EXPECT_FALSE(ParseFlagDuration("ttl", "0s").ok());
  EXPECT_FALSE(ParseFlagDuration("ttl", "-5s").ok());
}

}  // namespace
}  // namespace portlease
