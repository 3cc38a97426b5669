#include <sys/stat.h>

#include <fstream>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "testing/map_lookup.h"
#include "testing/poll_until.h"
#include "testing/temp_dir.h"
#include "testing/time_scale.h"

namespace portlease::testing {
namespace {

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

TEST(TempDirTest, CreatesAFreshDirectoryAndRemovesItWithItsContent) {
  std::string path;
  {
    TempDir dir;
    TempDir other;
    path = dir.path();
    EXPECT_TRUE(IsDirectory(path));
    EXPECT_NE(dir.path(), other.path());
    EXPECT_EQ(dir.File("a"), path + "/a");
    ASSERT_EQ(mkdir(dir.File("sub").c_str(), 0700), 0);
    std::ofstream(dir.File("sub/f")) << "x";
  }
  EXPECT_FALSE(IsDirectory(path));
}

TEST(MapLookupTest, ReturnsTheMapsValuesAndNulloptForOtherNames) {
  Lookup lookup = MapLookup({{"A", "1"}, {"EMPTY", ""}});
  EXPECT_EQ(lookup("A"), "1");
  EXPECT_EQ(lookup("EMPTY"), "");
  EXPECT_EQ(lookup("B"), std::nullopt);
  EXPECT_EQ(MapLookup({})("A"), std::nullopt);
}

TEST(PollUntilTest, ReturnsAsSoonAsTheConditionHolds) {
  int calls = 0;
  EXPECT_TRUE(PollUntil([&] { return ++calls == 3; }, absl::Seconds(10)));
  EXPECT_EQ(calls, 3);
}

TEST(PollUntilTest, GivesUpAfterTheScaledTimeout) {
  const absl::Time start = absl::Now();
  EXPECT_FALSE(PollUntil([] { return false; }, absl::Milliseconds(50)));
  EXPECT_GE(absl::Now() - start, Scaled(absl::Milliseconds(50)));
}

TEST(TimeScaleTest, IsAtLeastOne) {
  EXPECT_GE(TimeScale(), 1.0);
  EXPECT_EQ(Scaled(absl::Seconds(2)), absl::Seconds(2) * TimeScale());
}

}  // namespace
}  // namespace portlease::testing
