#include "portlease/template.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/map_lookup.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

using portlease::testing::MapLookup;

TEST(ExpandTemplateTest, SubstitutesVariables) {
  auto out = ExpandTemplate("port ${REDIS_PORT}\nbind ${HOST}:${REDIS_PORT}",
                            MapLookup({{"REDIS_PORT", "41000"}, {"HOST", "h"}}),
                            "t");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "port 41000\nbind h:41000");
}

TEST(ExpandTemplateTest, DefaultsApplyWhenUnknownOrEmpty) {
  auto lookup = MapLookup({{"EMPTY", ""}, {"SET", "x"}});
  EXPECT_EQ(*ExpandTemplate("${NOPE:-a b}", lookup, "t"), "a b");
  EXPECT_EQ(*ExpandTemplate("${EMPTY:-d}", lookup, "t"), "d");
  EXPECT_EQ(*ExpandTemplate("${SET:-d}", lookup, "t"), "x");
  EXPECT_EQ(*ExpandTemplate("${NOPE:-}", lookup, "t"), "");
}

TEST(ExpandTemplateTest, DollarEscapesAndLoneDollars) {
  auto lookup = MapLookup({{"A", "1"}});
  EXPECT_EQ(*ExpandTemplate("$$A $${A} $A $ x$", lookup, "t"),
            "$A ${A} $A $ x$");
}

TEST(ExpandTemplateTest, UnknownVariableNamesFileAndLine) {
  auto out = ExpandTemplate("a\nb\nc ${MISSING}\n", MapLookup({}), "redis.conf");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("redis.conf:3:"));
  EXPECT_THAT(out.status().message(), HasSubstr("MISSING"));
}

TEST(ExpandTemplateTest, UnterminatedAndInvalidNamesAreErrors) {
  auto unterminated = ExpandTemplate("x ${A\n}", MapLookup({{"A", "1"}}), "f");
  EXPECT_THAT(unterminated.status().message(), HasSubstr("f:1: unterminated"));
  auto invalid = ExpandTemplate("\n${1A}", MapLookup({}), "f");
  EXPECT_THAT(invalid.status().message(), HasSubstr("f:2: invalid variable"));
  EXPECT_FALSE(ExpandTemplate("${}", MapLookup({}), "f").ok());
  EXPECT_FALSE(ExpandTemplate("${A-B}", MapLookup({}), "f").ok());
}

TEST(ExpandTemplateTest, ValuesAreNotReexpanded) {
  EXPECT_EQ(*ExpandTemplate("${A}", MapLookup({{"A", "${B}"}}), "t"), "${B}");
}

TEST(IsValidVariableNameTest, Rules) {
  EXPECT_TRUE(IsValidVariableName("_A1"));
  EXPECT_TRUE(IsValidVariableName("redis_port"));
  EXPECT_FALSE(IsValidVariableName(""));
  EXPECT_FALSE(IsValidVariableName("1A"));
  EXPECT_FALSE(IsValidVariableName("A-B"));
}

}  // namespace
}  // namespace portlease
