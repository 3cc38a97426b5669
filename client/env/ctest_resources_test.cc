#include "portlease/ctest_resources.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/map_lookup.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

using portlease::testing::MapLookup;

TEST(CtestResourcesTest, SpecListsOneSlotPerBlock) {
  const std::string spec = FormatResourceSpec(2);
  EXPECT_THAT(spec, HasSubstr("\"major\": 1"));
  EXPECT_THAT(spec, HasSubstr("\"portlease\": ["));
  EXPECT_THAT(spec, HasSubstr("{\"id\": \"block0\", \"slots\": 1},\n"));
  EXPECT_THAT(spec, HasSubstr("{\"id\": \"block1\", \"slots\": 1}\n"));
  EXPECT_EQ(ResourceBlockEnvFile("/b/res.json", "block1"),
            "/b/res.json.block1.env");
}

TEST(CtestResourcesTest, FindsThePortleaseGroup) {
  absl::StatusOr<std::string> id = AssignedResourceBlock(
      MapLookup({{"CTEST_RESOURCE_GROUP_COUNT", "2"},
                 {"CTEST_RESOURCE_GROUP_0", "gpus"},
                 {"CTEST_RESOURCE_GROUP_0_GPUS", "id:0,slots:1"},
                 {"CTEST_RESOURCE_GROUP_1", "portlease"},
                 {"CTEST_RESOURCE_GROUP_1_PORTLEASE", "id:block7,slots:1"}}));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "block7");
}

TEST(CtestResourcesTest, Errors) {
  EXPECT_THAT(AssignedResourceBlock(MapLookup({})).status().message(),
              HasSubstr("--resource-spec-file"));
  EXPECT_EQ(
      AssignedResourceBlock(MapLookup({{"CTEST_RESOURCE_GROUP_COUNT", "1"},
                                       {"CTEST_RESOURCE_GROUP_0", "gpus"}}))
          .status()
          .code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(AssignedResourceBlock(
                MapLookup({{"CTEST_RESOURCE_GROUP_COUNT", "1"},
                           {"CTEST_RESOURCE_GROUP_0", "portlease"},
                           {"CTEST_RESOURCE_GROUP_0_PORTLEASE", "slots:1"}}))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      AssignedResourceBlock(MapLookup({{"CTEST_RESOURCE_GROUP_COUNT", "x"}}))
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace portlease
