#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "testing/map_lookup.h"
#include "testing/poll_until.h"
#include "testing/stop_process.h"
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

int ThreadCount(pid_t pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = opendir(tasks.c_str());
  if (dir == nullptr) return 0;
  int count = 0;
  while (const dirent* entry = readdir(dir)) count += entry->d_name[0] != '.';
  closedir(dir);
  return count;
}

// A process of four threads that all keep the CPU busy: the case where
// kill(2) returning does not mean the process has stopped.
TEST(StopProcessTest, ReturnsOnceEveryThreadIsStopped) {
  const char* argv[] = {
      "python3", "-c",
      "import threading\n"
      "def spin():\n"
      "    while True: pass\n"
      "for _ in range(3): threading.Thread(target=spin).start()\n"
      "spin()\n",
      nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawnp(&pid, "python3", nullptr, nullptr,
                         const_cast<char**>(argv), ::environ),
            0);
  ASSERT_TRUE(PollUntil([&] { return ThreadCount(pid) == 4; },
                        absl::Seconds(10)));
  EXPECT_FALSE(AllThreadsStopped(pid));
  EXPECT_TRUE(StopProcess(pid).ok());
  EXPECT_TRUE(AllThreadsStopped(pid));
  kill(pid, SIGCONT);
  EXPECT_TRUE(PollUntil([&] { return !AllThreadsStopped(pid); },
                        absl::Seconds(10)));
  kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_FALSE(AllThreadsStopped(pid));  // reaped: no /proc entry
}

TEST(TimeScaleTest, IsAtLeastOne) {
  EXPECT_GE(TimeScale(), 1.0);
  EXPECT_EQ(Scaled(absl::Seconds(2)), absl::Seconds(2) * TimeScale());
}

}  // namespace
}  // namespace portlease::testing
