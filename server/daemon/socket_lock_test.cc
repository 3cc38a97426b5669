// The directories and socket lock portleased sets up before serving.
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/daemon/socket_lock.h"
#include "tests/server/test_util.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

TEST(PortleasedFilesTest, DirOf) {
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
