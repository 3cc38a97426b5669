#include "server/portserver/process_table.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/system/files.h"
#include "gtest/gtest.h"
#include "server/portserver/test_manager.h"
#include "testing/proc_files.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::portlease::testing::kProcStatus;
using ::portlease::testing::ProcStatLine;

TEST(ProcessTableTest, ParsesStartTimeStateAndUids) {
  ProcessInfo info;
  ASSERT_TRUE(
      ParseProcFiles(ProcStatLine("a b) (c", 'S', 777), kProcStatus, &info)
          .ok());
  EXPECT_EQ(info.start_time, 777u);
  EXPECT_EQ(info.real_uid, 1000u);
  EXPECT_EQ(info.effective_uid, 1001u);
  EXPECT_FALSE(info.exited);
  ASSERT_TRUE(
      ParseProcFiles(ProcStatLine("z", 'Z', 5), kProcStatus, &info).ok());
  EXPECT_TRUE(info.exited);
}

TEST(ProcessTableTest, RefusesMalformedFiles) {
  ProcessInfo info;
  EXPECT_TRUE(
      absl::IsInternal(ParseProcFiles("42 no paren", kProcStatus, &info)));
  EXPECT_TRUE(
      absl::IsInternal(ParseProcFiles("42 (x) S 1", kProcStatus, &info)));
  EXPECT_TRUE(absl::IsInternal(
      ParseProcFiles(ProcStatLine("x", 'S', 1), "Name:\tx\n", &info)));
}

TEST(ProcessTableTest, ReadsAProcLikeDirectory) {
  testing::TempDir proc;
  ASSERT_EQ(mkdir(proc.File("42").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomically(proc.File("42/stat"),
                                  ProcStatLine("py", 'S', 99), 0644)
                  .ok());
  ASSERT_TRUE(
      WriteFileAtomically(proc.File("42/status"), kProcStatus, 0644).ok());
  ASSERT_TRUE(WriteFileAtomically(proc.File("42/cmdline"),
                                  std::string("python3\0-c\0x\0", 13), 0644)
                  .ok());
  ProcProcessTable table(proc.path());
  absl::StatusOr<ProcessInfo> info = table.Find(42);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->pid, 42);
  EXPECT_EQ(info->start_time, 99u);
  EXPECT_EQ(info->command, "python3 -c x");
  EXPECT_TRUE(absl::IsNotFound(table.Find(43).status()));
  EXPECT_TRUE(IsSameProcess(table, 42, 99));
  // The pid reused by a process that started later.
  EXPECT_FALSE(IsSameProcess(table, 42, 98));
  EXPECT_FALSE(IsSameProcess(table, 43, 99));
}

TEST(ProcessTableTest, AnUnreadableFileIsADoubtNotAnExit) {
  testing::TempDir proc;
  // stat is a directory: read fails with EISDIR while /proc/42 exists.
  ASSERT_EQ(mkdir(proc.File("42").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(proc.File("42/stat").c_str(), 0755), 0);
  ProcProcessTable table(proc.path());
  EXPECT_TRUE(absl::IsUnavailable(table.Find(42).status()));
  EXPECT_TRUE(IsSameProcess(table, 42, 99));
}

TEST(ProcessTableTest, ReadsThisProcess) {
  ProcProcessTable table;
  absl::StatusOr<ProcessInfo> self = table.Find(getpid());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_GT(self->start_time, 0u);
  EXPECT_EQ(self->real_uid, getuid());
  EXPECT_FALSE(self->exited);
  EXPECT_TRUE(IsSameProcess(table, getpid(), self->start_time));
  EXPECT_FALSE(IsSameProcess(table, getpid(), self->start_time + 1));
}

TEST(ProcessTableTest, AnExitedProcessIsNotTheSame) {
  FakeProcessTable table;
  table.Set(FakeProcess(7, 3, 1000, /*exited=*/true));
  EXPECT_FALSE(IsSameProcess(table, 7, 3));
  table.Set(FakeProcess(7, 3));
  EXPECT_TRUE(IsSameProcess(table, 7, 3));
}

}  // namespace
}  // namespace portlease
