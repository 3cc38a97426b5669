// SqliteLeaseStore under faults that need a child process: a full disk
// (RLIMIT_FSIZE, which binds root too) and kill -9 right after Put returns.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/store/sqlite_lease_store.h"
#include "server/store/test_leases.h"
#include "testing/temp_dir.h"

namespace portlease {
namespace {

// Reads one byte, waiting at most `timeout_ms`. Returns the byte, or -1 on
// EOF, error or timeout.
int ReadByte(int fd, int timeout_ms) {
  pollfd pfd = {fd, POLLIN, 0};
  int ready;
  do {
    ready = poll(&pfd, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) return -1;
  char c;
  ssize_t n;
  do {
    n = read(fd, &c, 1);
  } while (n < 0 && errno == EINTR);
  return n == 1 ? static_cast<unsigned char>(c) : -1;
}

// Runs `body` in a forked child, which reports through the pipe it is given.
// Returns the child's pid and the read end of its pipe.
struct Child {
  pid_t pid = -1;
  int fd = -1;
};
Child Fork(const std::function<void(int fd)>& body) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    body(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

void WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += n;
  }
}

off_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

LeaseRecord BigLease(int i) {
  LeaseRecord lease = TestLease(1000 + i);
  lease.owner["command"] = std::string(24 * 1024, 'x');
  return lease;
}

// The child's side of DiskFull: returns "" if all went as expected, else
// what went wrong. Runs in its own process: the file size limit and the
// ignored SIGXFSZ must not leak into the test runner.
std::string DiskFullScenario(const std::string& path) {
  absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> opened =
      SqliteLeaseStore::Open(path, {});
  if (!opened.ok()) return opened.status().ToString();
  SqliteLeaseStore& store = **opened;
  std::vector<LeaseRecord> acked;
  for (int i = 0; i < 3; ++i) {
    if (!store.Put(TestLease(i)).ok()) return "baseline Put failed";
    acked.push_back(TestLease(i));
  }

  signal(SIGXFSZ, SIG_IGN);  // Make writes past the limit fail with EFBIG.
  rlimit old_limit;
  if (getrlimit(RLIMIT_FSIZE, &old_limit) != 0) return "getrlimit failed";
  rlimit limit = old_limit;
  limit.rlim_cur = std::max(FileSize(path), FileSize(path + "-wal")) +
                   128 * 1024;
  if (setrlimit(RLIMIT_FSIZE, &limit) != 0) return "setrlimit failed";

  absl::Status failure;
  int i = 0;
  for (; i < 100 && failure.ok(); ++i) {
    failure = store.Put(BigLease(i));
    if (failure.ok()) acked.push_back(BigLease(i));
  }
  if (failure.ok()) return "Put never failed under RLIMIT_FSIZE";
  if (failure.code() != absl::StatusCode::kUnavailable) {
    return "want UNAVAILABLE, got " + failure.ToString();
  }
  if (failure.message().find(path) == std::string::npos) {
    return "message doesn't name the database: " + failure.ToString();
  }
  absl::StatusOr<std::vector<LeaseRecord>> all = store.LoadAll();
  if (!all.ok()) return "LoadAll while full: " + all.status().ToString();
  if (SortedById(*all) != SortedById(acked)) {
    return absl::StrCat("store changed by the failed Put: ", all->size(),
                        " leases, want ", acked.size());
  }

  // Space comes back: the same store works again.
  if (setrlimit(RLIMIT_FSIZE, &old_limit) != 0) return "setrlimit failed";
  absl::Status retry = store.Put(BigLease(i - 1));
  if (!retry.ok()) return "Put after space returned: " + retry.ToString();
  if (!store.Delete(TestLease(0).id).ok()) return "Delete after recovery";
  return "";
}

TEST(SqliteLeaseStoreCrashTest, DiskFullIsUnavailableRollsBackAndRecovers) {
  testing::TempDir dir;
  std::string path = dir.File("leases.db");
  Child child = Fork([&](int fd) {
    std::string error = DiskFullScenario(path);
    WriteAll(fd, error.empty() ? "ok" : error);
  });
  ASSERT_GT(child.pid, 0);
  std::string report;
  for (int c; report.size() < 4096 && (c = ReadByte(child.fd, 20000)) >= 0;) {
    report += static_cast<char>(c);
  }
  close(child.fd);
  int wstatus = 0;
  ASSERT_EQ(waitpid(child.pid, &wstatus, 0), child.pid);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << wstatus;
  ASSERT_EQ(report, "ok");

  // What the child acknowledged is on disk, in order: the reopened store
  // holds the big leases and TestLease(1..2).
  absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
      SqliteLeaseStore::Open(path, {});
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<std::vector<LeaseRecord>> all = (*store)->LoadAll();
  ASSERT_TRUE(all.ok()) << all.status();
  int small = 0;
  for (const LeaseRecord& lease : *all) {
    if (lease == TestLease(1) || lease == TestLease(2)) ++small;
    EXPECT_NE(lease.id, TestLease(0).id);
  }
  EXPECT_EQ(small, 2);
  EXPECT_GT(all->size(), 3u);
}

TEST(SqliteLeaseStoreCrashTest, AcknowledgedPutsSurviveKill9) {
  constexpr int kLeases = 400;
  constexpr int kKillAfter = 40;
  testing::TempDir dir;
  std::string path = dir.File("leases.db");
  Child child = Fork([&](int fd) {
    absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
        SqliteLeaseStore::Open(path, {});
    if (!store.ok()) {
      WriteAll(fd, "E");
      return;
    }
    for (int i = 0; i < kLeases; ++i) {
      if (!(*store)->Put(TestLease(i)).ok()) {
        WriteAll(fd, "E");
        return;
      }
      WriteAll(fd, "k");  // Acknowledged: Put has returned.
    }
    // Wait to be killed, but not forever.
    for (int s = 0; s < 30; ++s) sleep(1);
  });
  ASSERT_GT(child.pid, 0);

  int acked = 0;
  bool error = false;
  while (acked < kKillAfter) {
    int c = ReadByte(child.fd, 20000);
    if (c != 'k') {
      error = true;
      break;
    }
    ++acked;
  }
  ASSERT_EQ(kill(child.pid, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(waitpid(child.pid, &wstatus, 0), child.pid);
  EXPECT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL);
  // Acknowledgements written before the kill are still in the pipe.
  for (int c; (c = ReadByte(child.fd, 1000)) >= 0;) {
    if (c == 'k') ++acked;
    if (c == 'E') error = true;
  }
  close(child.fd);
  ASSERT_FALSE(error) << "the child failed to open or write the store";

  // The lock died with the child; everything acknowledged is there, plus at
  // most the one Put in flight when the kill landed.
  absl::StatusOr<std::unique_ptr<SqliteLeaseStore>> store =
      SqliteLeaseStore::Open(path, {});
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<std::vector<LeaseRecord>> all = (*store)->LoadAll();
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<LeaseRecord> loaded = SortedById(*std::move(all));
  ASSERT_GE(loaded.size(), static_cast<size_t>(acked));
  EXPECT_LE(loaded.size(), static_cast<size_t>(acked) + 1);
  for (int i = 0; i < static_cast<int>(loaded.size()); ++i) {
    EXPECT_EQ(loaded[i], TestLease(i)) << i;
  }
}

}  // namespace
}  // namespace portlease
