#include "lib/process_watch.h"

#include <sys/wait.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

TEST(ParseProcStatTest, CommWithSpacesAndParentheses) {
  absl::StatusOr<ProcessStat> stat = ParseProcStat(
      "1234 (a) b (c) S 99 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
      "777 1000 10 18446744073709551615");
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(stat->pid, 1234);
  EXPECT_EQ(stat->comm, "a) b (c");
  EXPECT_EQ(stat->ppid, 99);
  EXPECT_EQ(stat->start_time, 777u);
}

TEST(ParseProcStatTest, ZombieIsGoneAndGarbageIsInvalid) {
  EXPECT_EQ(ParseProcStat("5 (x) Z 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 0 "
                          "0 0")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ParseProcStat("garbage").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ProcessWatchTest, SelfAndParent) {
  absl::StatusOr<ProcessStat> self = ReadProcessStat(getpid());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_EQ(self->ppid, getppid());
  EXPECT_TRUE(IsSameProcess(getpid(), self->start_time));
  EXPECT_FALSE(IsSameProcess(getpid(), self->start_time + 1));
  EXPECT_EQ(FindAncestor(getpid(), "no-such-comm").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ProcessWatchTest, ExitedChildIsNotTheSameProcess) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  absl::StatusOr<ProcessStat> stat = ReadProcessStat(child);
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_TRUE(IsSameProcess(child, stat->start_time));
  // The child is our direct descendant: its ancestor named like us is us.
  absl::StatusOr<ProcessStat> self = ReadProcessStat(getpid());
  absl::StatusOr<ProcessStat> ancestor = FindAncestor(child, self->comm);
  ASSERT_TRUE(ancestor.ok()) << ancestor.status();
  EXPECT_EQ(ancestor->pid, getpid());
  kill(child, SIGKILL);
  // A zombie counts as gone.
  for (int i = 0; i < 500 && IsSameProcess(child, stat->start_time); ++i) {
    usleep(10000);
  }
  EXPECT_FALSE(IsSameProcess(child, stat->start_time));
  waitpid(child, nullptr, 0);
}

}  // namespace
}  // namespace portlease
