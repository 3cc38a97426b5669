#include "lib/process_watch.h"

#include <sys/wait.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portlease {
namespace {

TEST(ProcessWatchTest, SelfAndParent) {
  absl::StatusOr<ProcStat> self = ReadLiveProcess(getpid());
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
  absl::StatusOr<ProcStat> stat = ReadLiveProcess(child);
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_TRUE(IsSameProcess(child, stat->start_time));
  // The child is our direct descendant: its ancestor named like us is us.
  absl::StatusOr<ProcStat> self = ReadLiveProcess(getpid());
  absl::StatusOr<ProcStat> ancestor = FindAncestor(child, self->comm);
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
