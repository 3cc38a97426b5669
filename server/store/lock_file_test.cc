#include "server/store/lock_file.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::testing::HasSubstr;

TEST(LockFileTest, SecondAcquireFailsWithHolderPidUntilReleased) {
  testing::TempDir dir;
  std::string path = dir.File("x.lock");
  absl::StatusOr<std::unique_ptr<LockFile>> first =
      LockFile::Acquire(path, "thing X");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)->path(), path);

  absl::StatusOr<std::unique_ptr<LockFile>> second =
      LockFile::Acquire(path, "thing X");
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(),
              HasSubstr(absl::StrCat("thing X is in use by another portleased "
                                     "(pid ",
                                     getpid(), ")")));

  first->reset();
  absl::StatusOr<std::unique_ptr<LockFile>> third =
      LockFile::Acquire(path, "thing X");
  EXPECT_TRUE(third.ok()) << third.status();
}

TEST(LockFileTest, MissingDirectoryIsUnavailable) {
  testing::TempDir dir;
  absl::StatusOr<std::unique_ptr<LockFile>> lock =
      LockFile::Acquire(dir.File("missing/x.lock"), "thing X");
  EXPECT_EQ(lock.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(lock.status().message(), HasSubstr("missing/x.lock"));
}

}  // namespace
}  // namespace portlease
