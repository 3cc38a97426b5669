// The directories and socket lock portleased sets up before serving.
#include <sys/stat.h>

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/daemon/socket_lock.h"
#include "tests/server/test_util.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

TEST(PortleasedFilesTest, MakeDirsAndDirOf) {
  TempDir dir;
  const std::string deep = dir.File("a/b/c");
  ASSERT_TRUE(MakeDirs(deep, 0755).ok());
  struct stat st;
  ASSERT_EQ(stat(deep.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_TRUE(MakeDirs(deep, 0755).ok());
  EXPECT_EQ(DirOf("/run/portlease/x.sock"), "/run/portlease");
  EXPECT_EQ(DirOf("/x"), "/");
  EXPECT_EQ(DirOf("x"), ".");
}

TEST(PortleasedFilesTest, SecondSocketLockNamesTheHolder) {
  TempDir dir;
  const std::string socket = dir.File("portleased.sock");
  absl::StatusOr<std::unique_ptr<LockFile>> first = LockSocket(socket);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<LockFile>> second = LockSocket(socket);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(),
              HasSubstr("another portleased is serving unix:" + socket));
  first->reset();
  EXPECT_TRUE(LockSocket(socket).ok());
}

}  // namespace
}  // namespace portlease
