#include "common/system/proc_stat.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/system/files.h"
#include "gtest/gtest.h"
#include "testing/proc_files.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

using ::portlease::testing::kProcStatus;
using ::portlease::testing::ProcStatLine;

TEST(ParseProcStatTest, CommWithSpacesAndParentheses) {
  absl::StatusOr<ProcStat> stat = ParseProcStat(
      "1234 (a) b (c) S 99 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
      "777 1000 10 18446744073709551615");
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(stat->pid, 1234);
  EXPECT_EQ(stat->comm, "a) b (c");
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->ppid, 99);
  EXPECT_EQ(stat->start_time, 777u);
  EXPECT_FALSE(stat->exited());
}

TEST(ParseProcStatTest, ZombieHasExited) {
  absl::StatusOr<ProcStat> stat = ParseProcStat(ProcStatLine("z", 'Z', 5));
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_TRUE(stat->exited());
  EXPECT_EQ(stat->start_time, 5u);
}

TEST(ParseProcStatTest, RefusesMalformedText) {
  for (absl::string_view text :
       {"garbage", "42 no paren", "42 (x) S 1", "x (y) S 1 2", ""}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseProcStat(text).status())) << text;
  }
}

TEST(ParseProcUidsTest, RealAndEffective) {
  absl::StatusOr<ProcUids> uids = ParseProcUids(kProcStatus);
  ASSERT_TRUE(uids.ok()) << uids.status();
  EXPECT_EQ(uids->real, 1000u);
  EXPECT_EQ(uids->effective, 1001u);
  EXPECT_TRUE(absl::IsInvalidArgument(ParseProcUids("Name:\tx\n").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseProcUids("Uid:\tx y\n").status()));
}

TEST(JoinCmdlineTest, NulsBecomeSpaces) {
  EXPECT_EQ(JoinCmdline(std::string("python3\0-c\0x\0", 13)), "python3 -c x");
  EXPECT_EQ(JoinCmdline(""), "");
}

TEST(ReadProcStatTest, ReadsAProcLikeDirectory) {
  testing::TempDir proc;
  ASSERT_EQ(mkdir(proc.File("42").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomically(proc.File("42/stat"),
                                  ProcStatLine("py", 'S', 99), 0644)
                  .ok());
  absl::StatusOr<ProcStat> stat = ReadProcStat(42, proc.path());
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(stat->start_time, 99u);
  EXPECT_TRUE(absl::IsNotFound(ReadProcStat(43, proc.path()).status()));
  EXPECT_TRUE(absl::IsNotFound(ReadProcStat(0, proc.path()).status()));
  ASSERT_TRUE(WriteFileAtomically(proc.File("42/stat"), "junk", 0644).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(ReadProcStat(42, proc.path()).status()));
}

TEST(ReadProcStatTest, AnUnreadableFileIsNotAMissingProcess) {
  testing::TempDir proc;
  // stat is a directory: the read fails with EISDIR while /proc/42 exists.
  ASSERT_EQ(mkdir(proc.File("42").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(proc.File("42/stat").c_str(), 0755), 0);
  EXPECT_TRUE(absl::IsUnavailable(ReadProcStat(42, proc.path()).status()));
}

TEST(ReadProcStatTest, ReadsThisProcess) {
  absl::StatusOr<ProcStat> self = ReadProcStat(getpid());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_EQ(self->pid, getpid());
  EXPECT_EQ(self->ppid, getppid());
  EXPECT_GT(self->start_time, 0u);
  EXPECT_FALSE(self->exited());
}

}  // namespace
}  // namespace portlease
